// Turns every ```ts block of README.md into a stack of the cdk init app in the current directory, the way
// jsii-rosetta compiles it: the block replaces `/// here` in rosetta/default.ts-fixture (its imports and a
// Stack constructor). A `declare const x: T;` becomes a value a user would have (STAND_INS); a declare with
// no stand-in stops the run, so that a new README example cannot be skipped silently.
// Usage: node stacks.js README.md default.ts-fixture BIN_FILE   (prints the stack names, one a line)
const fs = require('fs');
const path = require('path');
const [readmeFile, fixtureFile, binFile] = process.argv.slice(2);

const STAND_INS = {
  // The default VPC a user gets from `new ec2.Vpc`: public and private-with-egress subnets, no isolated ones.
  'ec2.IVpc': (name) => `const ${name} = new ec2.Vpc(this, 'Vpc');`,
  'route53.IHostedZone': (name) =>
    `const ${name} = route53.HostedZone.fromHostedZoneAttributes(this, 'Zone', { hostedZoneId: 'Z23ABC4XYZL05B', zoneName: 'example.com' });`,
};

function readFixture(file) {
  const fixture = fs.readFileSync(file, 'utf8');
  if (!fixture.includes('/// here') || !fixture.includes('class Fixture extends Stack')) {
    throw new Error(`${file} no longer has '/// here' and 'class Fixture extends Stack'`);
  }
  return fixture;
}
const defaultFixture = readFixture(fixtureFile);
let heading = 'Intro';
const names = [];
// A heading, or a fenced block of any language (so that a `# comment` in a bash block is no heading).
const re = /^#{1,6} (.*)$|^```(\w*)([^\n]*)\n([\s\S]*?)^```$/gm;
for (let m; (m = re.exec(fs.readFileSync(readmeFile, 'utf8'))); ) {
  if (m[1]) { heading = m[1]; continue; }
  if (m[2] !== 'ts') continue;
  // ```ts fixture=NAME takes rosetta/NAME.ts-fixture, as jsii-rosetta does.
  const fixtureName = /\bfixture=(\S+)/.exec(m[3])?.[1];
  const fixture = fixtureName ? readFixture(path.join(path.dirname(fixtureFile), `${fixtureName}.ts-fixture`)) : defaultFixture;
  const code = m[4].replace(/^declare const (\w+): ([\w.]+);$/gm, (line, name, type) => {
    if (!STAND_INS[type]) throw new Error(`README example under "${heading}": no stand-in for '${line}' (add one to STAND_INS in ${__filename})`);
    return STAND_INS[type](name);
  });
  const name = `Readme${String(names.length + 1).padStart(2, '0')}-${heading.replace(/[^A-Za-z0-9 ]/g, '').replace(/(?:^| +)(\w)/g, (_, c) => c.toUpperCase())}`;
  const cls = name.replace('-', '');
  fs.writeFileSync(`lib/${name}.ts`, fixture
    .replace('class Fixture extends Stack', `export class ${cls} extends Stack`)
    .replace('/// here', code.trimEnd().replace(/\n(?=.)/g, '\n    ')));
  names.push(name);
}
if (names.length === 0) throw new Error(`no \`\`\`ts block in ${readmeFile}`);

// The app builds only the stack named by `-c example=NAME`: an example that throws while it is being built
// then fails its own case only, while cdk.json (its app command and context) stays as cdk init wrote it.
fs.writeFileSync(binFile, `#!/usr/bin/env node
import * as cdk from 'aws-cdk-lib/core';
${names.map((n) => `import { ${n.replace('-', '')} } from '../lib/${n}';`).join('\n')}

const app = new cdk.App();
const examples: Record<string, new (scope: cdk.App, id: string) => cdk.Stack> = {
${names.map((n) => `  '${n}': ${n.replace('-', '')},`).join('\n')}
};
const name = app.node.getContext('example');
new examples[name](app, name);
`);
console.log(names.join('\n'));
