// ONNX Runtime (CPU, in-process) on tmlp's exported models, for check_export.py.
//   node ort_run.js JOBS.json: each job {model, input, output}; input {rows, cols, x}; writes
//   the model's "outputs" to output as a JSON array.
const ort = require('onnxruntime-node');
const fs = require('fs');

(async () => {
  const jobs = JSON.parse(fs.readFileSync(process.argv[2]));
  for (const job of jobs) {
    const d = JSON.parse(fs.readFileSync(job.input));
    const session = await ort.InferenceSession.create(job.model, {intraOpNumThreads: 1});
    const feeds = {features: new ort.Tensor('float32', Float32Array.from(d.x), [d.rows, d.cols])};
    const r = await session.run(feeds);
    fs.writeFileSync(job.output, JSON.stringify(Array.from(r.outputs.data)));
  }
})().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
