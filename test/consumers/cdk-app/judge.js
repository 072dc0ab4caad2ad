// Judges one synthesized cloud assembly: prints every problem, one a line, and exits 1 if there is any.
// A problem is (1) a validation-report plugin that did not pass, or a violation it lists, other than the
// construct annotations (judged from the assembly instead: see 2); (2) any annotation in the assembly,
// warning, error or info, other than the library's own warnings. Those carry an id from addWarningV2, which
// appends `[ack: cdk-scalable-wordpress:<id>]` to the message: a user can acknowledge them.
// Annotations are in each artifact's `metadata` in manifest.json, or in the file its
// `additionalMetadataFile` names (aws-cdk-lib 2.257+ writes them there).
// Usage: node judge.js CDK_OUT_DIR
const fs = require('fs');
const path = require('path');
const dir = process.argv[2];
const read = (f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
const problems = new Set();

// Its name and shape changed between the two aws-cdk-lib versions: policy-validation-report.json with
// {summary: {pluginName, status}} (2.257), validation-report.json with {pluginName, conclusion} (2.276).
for (const file of ['validation-report.json', 'policy-validation-report.json']) {
  if (!fs.existsSync(path.join(dir, file))) continue;
  for (const plugin of read(file).pluginReports) {
    const name = plugin.pluginName ?? plugin.summary.pluginName;
    const status = plugin.conclusion ?? plugin.summary.status;
    if (status !== 'success') problems.add(`${file}: ${name}: ${status}`);
    if (name === 'Construct Annotations') continue;
    for (const v of plugin.violations ?? []) {
      const where = [...(v.violatingResources ?? []), ...(v.violatingConstructs ?? [])]
        .map((r) => r.cloudFormationResource?.logicalId ?? r.resourceLogicalId ?? r.constructPath).join(', ');
      problems.add(`${name} ${v.severity} ${v.ruleName}: ${v.description} (${where})`);
    }
  }
}

if (!fs.existsSync(path.join(dir, 'manifest.json'))) problems.add(`no ${dir}/manifest.json: synthesis did not finish`);
else {
  for (const artifact of Object.values(read('manifest.json').artifacts ?? {})) {
    const metadata = { ...artifact.metadata, ...(artifact.additionalMetadataFile ? read(artifact.additionalMetadataFile) : {}) };
    for (const [construct, entries] of Object.entries(metadata)) {
      for (const { type, data } of entries) {
        if (!['aws:cdk:warning', 'aws:cdk:error', 'aws:cdk:info'].includes(type)) continue;
        if (type === 'aws:cdk:warning' && /\[ack: cdk-scalable-wordpress:[^\]]+\]$/.test(data)) continue;
        problems.add(`${type.replace('aws:cdk:', '')} at ${construct}: ${data}`);
      }
    }
  }
}
for (const p of problems) console.log(p);
process.exit(problems.size ? 1 : 0);
