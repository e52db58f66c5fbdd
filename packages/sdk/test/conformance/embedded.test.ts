import { connect } from '@virtkit/sdk';
import { describeConformance } from './suite.ts';

describeConformance('embedded (simulated nodes, virtual time)', async () => {
  const client = await connect({ mode: 'embedded', nodes: 3, seed: 7 });
  return { client, close: () => client.close() };
});
