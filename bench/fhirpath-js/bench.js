// Throughput of fhirpath.js (HL7's reference JavaScript FHIRPath engine) on the expressions
// selected by `cargo bench -p clins-hub --bench fhirpath` (written to a JSON file), so both
// engines evaluate the same expressions against the same inputs.
//
// usage: node bench.js SELECTION.json INPUT_DIR SECONDS
'use strict';
const fs = require('fs');
const path = require('path');
const fhirpath = require('fhirpath');
const r4 = require('fhirpath/fhir-context/r4');

const [selectionFile, inputDir, secondsArg, acceptedFile] = process.argv.slice(2);
const seconds = Number(secondsArg || 5);
const selection = JSON.parse(fs.readFileSync(selectionFile, 'utf8'));
const inputs = {};
const cases = [];
const accepted = [];
let skipped = 0;
for (const c of selection) {
  let resource = null;
  if (c.input) {
    if (!(c.input in inputs)) {
      inputs[c.input] = JSON.parse(fs.readFileSync(path.join(inputDir, c.input), 'utf8'));
    }
    resource = inputs[c.input];
  }
  try {
    const fn = fhirpath.compile(c.expression, r4);
    fn(resource || {}); // must not throw
    cases.push([fn, resource || {}]);
    accepted.push(c);
  } catch (e) {
    skipped++;
  }
}
// The expressions fhirpath.js runs, for the Rust side to measure the very same set.
if (acceptedFile) fs.writeFileSync(acceptedFile, JSON.stringify(accepted));
if (seconds === 0) process.exit(0);
// Warm up, then run rounds over the whole list for the given time.
const runAll = () => { for (const [fn, r] of cases) fn(r); };
for (let i = 0; i < 20; i++) runAll();
const t0 = process.hrtime.bigint();
let evaluations = 0;
while (Number(process.hrtime.bigint() - t0) / 1e9 < seconds) {
  runAll();
  evaluations += cases.length;
}
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(JSON.stringify({
  engine: 'fhirpath.js ' + require('fhirpath/package.json').version,
  node: process.version,
  expressions: cases.length,
  skipped,
  evaluations_per_second: evaluations / secs,
}));
