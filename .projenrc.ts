import { awscdk, javascript, JsonFile, ReleasableCommits } from 'projen';

// Versions that work together on this toolchain (see DESIGN.md section 5). Everything is pinned:
// projen would otherwise leave `*` or `latest`, and a floating tool breaks CI on its own schedule.
const CDK_VERSION = '2.257.0'; // floor for users; integ-runner 2.197.10 reads its cloud-assembly schema
const CONSTRUCTS_VERSION = '10.5.1';
const JSII_VERSION = '~6.0.16';
const TYPESCRIPT_VERSION = '~6.0.3'; // TypeScript 7 breaks ts-node, jest and eslint

const project = new awscdk.AwsCdkConstructLibrary({
  name: 'cdk-scalable-wordpress',
  description:
    'An AWS CDK construct for production WordPress: ALB, Auto Scaling across AZs, RDS Multi-AZ or Aurora with read replicas, EFS or EBS media, secrets in Secrets Manager.',
  author: 'cdk-scalable-wordpress maintainers',
  authorAddress: 'maintainers@cdk-scalable-wordpress.dev',
  authorOrganization: true,
  repositoryUrl: 'https://github.com/cdk-scalable-wordpress/cdk-scalable-wordpress.git',
  homepage: 'https://github.com/cdk-scalable-wordpress/cdk-scalable-wordpress#readme',
  license: 'Apache-2.0',
  keywords: ['cdk', 'awscdk', 'aws-cdk', 'wordpress', 'cms', 'php', 'alb', 'autoscaling', 'aurora', 'rds', 'efs', 'high-availability'],
  stability: 'experimental',

  defaultReleaseBranch: 'main',
  packageManager: javascript.NodePackageManager.NPM,
  projenrcTs: true,
  minNodeVersion: '20.0.0',
  // GitHub's build and release jobs run on Node 22: jsii 6 and the release tooling have dropped Node 20.
  workflowNodeVersion: '22.x',

  cdkVersion: CDK_VERSION,
  cdkVersionPinning: false, // peer dependency ^2.257.0: users pick any newer aws-cdk-lib
  constructsVersion: CONSTRUCTS_VERSION,
  jsiiVersion: JSII_VERSION,
  typescriptVersion: TYPESCRIPT_VERSION,
  projenVersion: '0.103.25',

  // Integ tests (test/integ.*.ts) are run by integ-runner; projen's own integ system stays off so the two don't overlap.
  integrationTestAutoDiscover: false,
  experimentalIntegRunner: true,

  jestOptions: {
    // A changed snapshot must fail CI instead of being rewritten silently.
    updateSnapshot: javascript.UpdateSnapshot.NEVER,
    passWithNoTests: false,
    jestConfig: {
      testMatch: ['<rootDir>/test/**/*.test.ts'],
    },
  },
  eslintOptions: {
    dirs: ['src'],
    devdirs: ['test', 'examples', '.projenrc.ts', 'projenrc'],
  },

  docgen: true,
  docgenFilePath: 'API.md',

  devDeps: [
    '@types/node@^20',
    'ts-node@10.9.2',
    'jsii-diff@1.140.0',
    'jsii-pacmak@1.140.0',
    'jsii-docgen@10.12.6',
    'jsii-rosetta@~6.0.17',
    'eslint-import-resolver-typescript@4.4.5',
    'eslint-plugin-import@2.32.0',
    'cdk-nag@3.0.2',
  ],

  // Releasing: projen's release workflow publishes every jsii target on a releasable commit to main.
  releasableCommits: ReleasableCommits.featuresAndFixes(),
  publishToPypi: {
    distName: 'cdk-scalable-wordpress',
    module: 'cdk_scalable_wordpress',
  },
  publishToMaven: {
    javaPackage: 'io.github.cdkscalablewordpress',
    mavenGroupId: 'io.github.cdk-scalable-wordpress',
    mavenArtifactId: 'cdk-scalable-wordpress',
    mavenServerId: 'central-ossrh',
  },
  publishToNuget: {
    dotNetNamespace: 'CdkScalableWordPress',
    packageId: 'CdkScalableWordPress',
  },
  publishToGo: {
    moduleName: 'github.com/cdk-scalable-wordpress/cdk-scalable-wordpress-go',
  },

  gitignore: ['cdk.out', 'cdk.out.*', '*.d.ts.map', '.jsii.tabl.json', 'cdk-integ.out.*', 'read.*.lock', '/lab/work/', '__pycache__/'],
});

// Added after construction: the Jest component registers these unpinned, and a later add replaces them.
project.addDevDeps('jest@30.5.2', '@types/jest@30.0.0', 'ts-jest@29.4.15');
// integ-runner 2.197.10 is the newest, and reads the cloud-assembly schema that aws-cdk-lib 2.257 writes.
for (const dep of ['@aws-cdk/integ-runner', '@aws-cdk/integ-tests-alpha']) {
  project.deps.removeDependency(dep);
}
project.addDevDeps('@aws-cdk/integ-runner@2.197.10', '@aws-cdk/integ-tests-alpha@2.245.0-alpha.0');

// The npm package holds the library and the boot assets it reads at synth time, nothing else.
for (const ignored of ['/.ci/', '/cdk.out/', '/examples/', '/rosetta/', '/lab/', '/test-reports/', '/coverage/', '/benchmarks/', '/scripts/']) {
  project.addPackageIgnore(ignored);
}

// README examples are compiled by jsii-rosetta in strict mode: an example that doesn't type-check fails the build.
project.package.file.addOverride('jsii.metadata.jsii.rosetta.strict', true);
project.postCompileTask.exec('jsii-rosetta extract --strict --fail');
// jsii's reserved-word warnings stay on: a prop named like a keyword in Python, Java, C# or Go is a bug.
project.compileTask.reset('jsii');

// Integ snapshots: `integ` (run by `test`) verifies them offline and fails on any change; these refresh them
// offline, or deploy every scenario (or the ones named) for real, assert live, and destroy.
project.addTask('integ:snapshot', {
  description: 'Refresh the integ test snapshots offline (no deploy)',
  exec: 'integ-runner --language typescript --update-on-failed --dry-run',
  receiveArgs: true,
});
project.addTask('integ:deploy', {
  description: 'Deploy the integ tests to the account and region of the environment, run their live assertions, destroy them',
  exec: 'integ-runner --language typescript --force --parallel-regions "${AWS_REGION:-us-east-1}"',
  receiveArgs: true,
});

// Without a region, integ-runner probes the EC2 metadata service for one: give it the caller's, or a default.
for (const name of ['integ', 'integ:snapshot', 'integ:deploy']) {
  const task = project.tasks.tryFind(name)!;
  task.env('AWS_REGION', '$(echo ${AWS_REGION:-us-east-1})');
  task.env('CDK_DISABLE_CLI_TELEMETRY', 'true');
}

// Packages for every language; the scripts say why .NET and Go may be generated without being compiled.
project.tasks.tryFind('package:dotnet')!.reset('bash scripts/package-dotnet.sh');
project.tasks.tryFind('package:go')!.reset('bash scripts/package-go.sh');

// A new user: `cdk init` with today's CLI, the packed tarball (and wheel), every README example synthesized
// and judged (test/consumers/cdk-app/run.sh says how). Needs a compiled .jsii, as package:js always does.
const cdkApp = project.addTask('test:cdk-app', {
  description: 'Synthesizes every README example in a fresh `cdk init` app on the newest and the oldest supported aws-cdk-lib, strict mode',
});
cdkApp.spawn(project.tasks.tryFind('package:js')!);
cdkApp.exec('bash test/consumers/cdk-app/run.sh');

// Consumers: a Python, a Java and a Go program use the built packages (not the sources) to synthesize a site.
const consumers = project.addTask('test:consumers', {
  description: 'Build the Python, Java and Go packages, then run the consumer program of each language against them',
});
consumers.spawn(project.compileTask);
consumers.spawn(project.tasks.tryFind('package:python')!);
consumers.spawn(project.tasks.tryFind('package:java')!);
consumers.exec('bash scripts/package-go.sh', { env: { GO_CODE_ONLY: 'true' } });
consumers.exec('bash test/consumers/python/run.sh');
consumers.exec('bash test/consumers/java/run.sh');
consumers.exec('bash test/consumers/go/run.sh');
consumers.spawn(cdkApp);

project.addTask('diagram', {
  description: 'Write the README\'s architecture diagram from the synthesized example site (a test fails when it is out of date)',
  exec: 'ts-node --project test/tsconfig.json scripts/diagram.ts',
});

project.addTask('bench', {
  description: 'Benchmark: an instance of the construct against stock WordPress and a static file, in the boot lab (root); writes benchmarks/results.json and RESULTS.md',
  steps: [
    { spawn: 'compile' },
    { spawn: 'package:python' },
    { exec: 'bash benchmarks/run.sh' },
  ],
});

project.addTask('bench:consumers', {
  description: 'Benchmark: how long synthesizing the example site takes in TypeScript, Python and Java',
  steps: [
    { spawn: 'package:python' },
    { spawn: 'package:java' },
    { exec: 'python3 benchmarks/consumer-synth.py' },
  ],
});

// The tests lint and run the boot's PHP and shell files: install PHP and shellcheck first when missing.
project.testTask.prependExec('bash scripts/test-deps.sh');
project.testTask.spawn(consumers);
// The boot lab: the construct's user data booted unchanged on real software (root; see lab/README.md). It runs
// through sudo when the caller is not root, as on GitHub's runners, so that a pull request runs every test CI runs.
project.testTask.spawn(project.addTask('test:lab', {
  description: 'Boot the synthesized user data on Debian 13 containers with MariaDB, haproxy and AWS stand-ins (root, or sudo)',
  exec: 'bash scripts/lab-as-root.sh',
}));
// Everything but the lab, for contributors without root: unit tests, lint, integ snapshots, consumers.
project.addTask('test:no-lab', {
  description: 'Every test but the boot lab (needs no root): jest, eslint, integ snapshots, consumers',
  steps: [
    { exec: 'bash scripts/test-deps.sh' },
    { exec: 'jest --ci' },
    { spawn: 'eslint' },
    { spawn: 'integ' },
    { spawn: 'test:consumers' },
  ],
});

// The example site: the README's first command synthesizes it to cdk.out with no AWS credentials.
new JsonFile(project, 'examples/tsconfig.json', {
  obj: {
    extends: '../tsconfig.json',
    compilerOptions: { noEmit: true, rootDir: '..', isolatedModules: true },
    include: ['**/*.ts'],
    exclude: ['node_modules'],
  },
  allowComments: true,
});
project.addTask('synth:example', {
  description: 'Synthesize the example WordPress site (examples/site.ts) to cdk.out',
  exec: 'ts-node --project examples/tsconfig.json examples/site.ts',
});

project.synth();
