// ONNX Runtime's side of scripts/bench_onnx.py: times InferenceSession.run (onnxruntime-node,
// CPU, in-process) on a features-only export and prints one JSON line, as
// tmlp_predict_latency does: the median, min and max time per call over blocks of calls.
//   node bench_onnx_ort.js MODEL.onnx BATCH N_INPUTS INTRA_THREADS SECONDS
const ort = require('onnxruntime-node');

(async () => {
  const [model, batchText, inputsText, threadsText, secondsText] = process.argv.slice(2);
  const batch = Number(batchText), nInputs = Number(inputsText);
  const budget = Number(secondsText);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: Number(threadsText),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  // Standard normal inputs (Box-Muller), made once.
  const x = new Float32Array(batch * nInputs);
  for (let i = 0; i < x.length; ++i) {
    x[i] = Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
  }
  const feeds = {features: new ort.Tensor('float32', x, [batch, nInputs])};
  const now = () => Number(process.hrtime.bigint()) / 1e9;
  let t0 = now(), warm = 0;
  while (now() - t0 < Math.min(0.2, budget / 5) || warm < 3) {
    await session.run(feeds);
    ++warm;
  }
  const perCall = (now() - t0) / warm;
  const block = Math.max(1, Math.floor(0.02 / perCall));
  const us = [];
  t0 = now();
  while (now() - t0 < budget || us.length < 5) {
    const b0 = now();
    for (let i = 0; i < block; ++i) await session.run(feeds);
    us.push((now() - b0) * 1e6 / block);
  }
  us.sort((a, b) => a - b);
  console.log(JSON.stringify({median_us: us[us.length >> 1], min_us: us[0],
                              max_us: us[us.length - 1], calls: us.length * block}));
})().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
