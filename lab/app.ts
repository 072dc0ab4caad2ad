// The stacks the boot lab boots instances of: their user data is taken from these templates, unchanged.
import { App, Duration, Stack } from 'aws-cdk-lib';
import { ScalableWordPress, WordPressDatabase, WordPressMedia } from '../src';

const app = new App({ outdir: process.argv[2] ?? 'lab/work/cdk.out' });

new ScalableWordPress(new Stack(app, 'LabAuroraEfs'), 'Site', {
  database: WordPressDatabase.auroraReplicas({ readers: 1 }),
  media: WordPressMedia.efs(),
  siteTitle: 'Lab \'quoted\' $title',
  // Short, so that the lab sees an edit reach anonymous visitors within a few seconds.
  pageCacheTtl: Duration.seconds(5),
});

new ScalableWordPress(new Stack(app, 'LabRdsEbs'), 'Site', {
  database: WordPressDatabase.rdsMultiAz(),
  media: WordPressMedia.ebs(),
});

app.synth();
