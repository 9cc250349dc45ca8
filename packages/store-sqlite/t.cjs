const { Worker } = require('node:worker_threads');
const w = new Worker(
  `const D=require(${JSON.stringify(require.resolve('better-sqlite3'))}); const db=new D(':memory:'); db.prepare('WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c').get();`,
  { eval: true },
);
setTimeout(async () => {
  const t = Date.now();
  const r = await Promise.race([w.terminate(), new Promise((r) => setTimeout(() => r('stuck'), 3000))]);
  console.log('terminate ->', r, Date.now() - t, 'ms');
  process.exit(0);
}, 500);
