import { KubeConfig } from '@kubernetes/client-node';
import { connect } from '@virtkit/sdk';
import { SimEnv } from '@virtkit/sim';
import { createApiServer } from '../../src/api/index.ts';
import { describeConformance } from './suite.ts';

// The same suite through a real HTTP API server (TLS + bearer token) with @kubernetes/client-node.
describeConformance('kubernetes (client-node over HTTPS to the API server)', async () => {
  const env = await SimEnv.create({ nodes: 3, seed: 7 });
  await env.waitFor(async () => (await env.store.list('Node')).items.length === 3, { what: 'nodes' });
  const engine = env.engine;
  if (!engine) throw new Error('no engine');
  const server = await createApiServer({
    store: env.store,
    actions: engine.actions,
    drivers: engine.drivers,
    clock: env.clock,
    port: 0,
  });
  const kc = new KubeConfig();
  kc.loadFromString(await server.kubeconfig());
  const client = await connect({ mode: 'kubernetes', kubeconfig: kc });
  return {
    client,
    close: async () => {
      await client.close();
      await server.close();
      await env[Symbol.asyncDispose]();
    },
  };
});
