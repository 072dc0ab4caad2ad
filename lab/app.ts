// The stacks the boot lab boots instances of: their user data is taken from these templates, unchanged.
import { App, Duration, Stack } from 'aws-cdk-lib';
import { ScalableWordPress, WordPressDatabase, WordPressEdge, WordPressMedia, WordPressObjectCache } from '../src';

const app = new App({ outdir: process.argv[2] ?? 'lab/work/cdk.out' });

new ScalableWordPress(new Stack(app, 'LabAuroraEfs'), 'Site', {
  database: WordPressDatabase.auroraReplicas({ readers: 1 }),
  // Built from a recovery point: the first boot restores it through the AWS Backup stand-in.
  media: WordPressMedia.efs({ fromRecoveryPoint: 'arn:aws:backup:lab-1:123456789012:recovery-point:LAB-MEDIA-0001' }),
  siteTitle: 'Lab \'quoted\' $title',
  // No hosted zone in the lab: an address of an identity "verified" elsewhere (the SES stand-in takes any).
  emailFrom: 'wordpress@lab.test',
  // Short, so that the lab sees an edit reach anonymous visitors within a few seconds.
  pageCacheTtl: Duration.seconds(5),
  objectCache: WordPressObjectCache.serverless(),
});

new ScalableWordPress(new Stack(app, 'LabRdsEbs'), 'Site', {
  database: WordPressDatabase.rdsMultiAz(),
  media: WordPressMedia.ebs(),
  objectCache: WordPressObjectCache.serverless(),
});

// The same site behind CloudFront (the lab's edge stand-in is generated from this template's distribution). Its page
// cache lifetime is long, so that an edit seen within seconds was purged, not expired.
new ScalableWordPress(new Stack(app, 'LabEdge', { env: { region: 'us-east-1' } }), 'Site', {
  database: WordPressDatabase.auroraReplicas({ readers: 1 }),
  media: WordPressMedia.efs(),
  edge: WordPressEdge.cloudFront(),
  pageCacheTtl: Duration.minutes(5),
  objectCache: WordPressObjectCache.serverless(),
});

app.synth();
