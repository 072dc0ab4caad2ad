// Adds up the JUnit reports in test-reports/ (jest, pytest, Maven Surefire, the boot lab) and prints
// one line, "N passed, N failed", for CI. Skipped tests count as neither.
const fs = require('fs');
const path = require('path');

const dir = process.argv[2] ?? 'test-reports';
const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.xml')) : [];
const attr = (tag, name) => Number((new RegExp(`\\b${name}="(\\d+)"`).exec(tag) ?? [])[1] ?? 0);
let passed = 0;
let failed = 0;
for (const file of files) {
  const xml = fs.readFileSync(path.join(dir, file), 'utf8');
  const root = /<testsuites\b[^>]*>/.exec(xml)?.[0];
  // A <testsuites> element with totals speaks for the whole file; otherwise add up its <testsuite>s.
  const tags = root && /\btests="/.test(root) ? [root] : xml.match(/<testsuite\b[^>]*>/g) ?? [];
  for (const tag of tags) {
    const bad = attr(tag, 'failures') + attr(tag, 'errors');
    passed += attr(tag, 'tests') - bad - attr(tag, 'skipped');
    failed += bad;
  }
}
if (files.length === 0) {
  failed += 1; // no report at all: the tests did not run
}
console.log(`${passed} passed, ${failed} failed`);
