// ONNX Runtime (CPU, in-process) on tmlp's exported models, for check_export.py.
//   node ort_run.js JOBS.json
// Each job is {model, input, output}. input: a JSON object of feeds, name -> {type ("float32" or
// "string"), dims, data} (null in float data stands for NaN). output: every output of the model
// by name, as {dims, data}.
const ort = require('onnxruntime-node');
const fs = require('fs');

function tensor(feed) {
  if (feed.type === 'string') return new ort.Tensor('string', feed.data, feed.dims);
  return new ort.Tensor('float32', Float32Array.from(feed.data, (v) => (v === null ? NaN : v)),
                        feed.dims);
}

(async () => {
  const jobs = JSON.parse(fs.readFileSync(process.argv[2]));
  for (const job of jobs) {
    const feeds = JSON.parse(fs.readFileSync(job.input));
    const session = await ort.InferenceSession.create(job.model, {intraOpNumThreads: 1});
    const inputs = {};
    for (const [name, feed] of Object.entries(feeds)) inputs[name] = tensor(feed);
    const r = await session.run(inputs);
    const out = {};
    for (const [name, t] of Object.entries(r)) {
      out[name] = {dims: t.dims, data: Array.from(t.data, (v) => (Number.isNaN(v) ? null : v))};
    }
    fs.writeFileSync(job.output, JSON.stringify(out));
  }
})().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
