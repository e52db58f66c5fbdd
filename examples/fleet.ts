/** The small fleet the examples share: web servers and a database, built with the SDK's builder. */
import { vm } from '@virtkit/sdk';

export const webServer = (i: number) =>
  vm(`web-${i}`)
    .label('app', 'web')
    .memory('512Mi')
    .cores(1)
    .containerDisk('quay.io/containerdisks/fedora:40')
    .cloudInit({ hostname: `web-${i}` })
    .evictionStrategy('LiveMigrate')
    .build();

export const database = () =>
  vm('db')
    .label('app', 'db')
    .memory('2Gi')
    .cores(2)
    .containerDisk('quay.io/containerdisks/fedora:40')
    .emptyDisk('data', '10Gi')
    .cloudInit({ hostname: 'db' })
    .evictionStrategy('LiveMigrate')
    .build();
