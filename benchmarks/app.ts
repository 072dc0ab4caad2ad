// The site the benchmark boots: the construct's defaults, with Aurora and one reader so that read
// offload can be measured. Its user data is taken from this template, unchanged.
import { App, Stack } from 'aws-cdk-lib';
import { ScalableWordPress, WordPressDatabase } from '../src';

const app = new App({ outdir: process.argv[2] ?? 'lab/work/cdk.out' });

new ScalableWordPress(new Stack(app, 'BenchSite'), 'Site', {
  database: WordPressDatabase.auroraReplicas({ readers: 1 }),
});

app.synth();
