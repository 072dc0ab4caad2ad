// The example site: Aurora with two readers, EFS, and a domain. `npx projen synth:example` synthesizes it to
// cdk.out with no AWS account: the stack is environment-agnostic and the hosted zone is given by its attributes.
import { App, Stack } from 'aws-cdk-lib';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { ScalableWordPress, WordPressDatabase, WordPressMedia } from '../src';

const app = new App({ outdir: process.env.CDK_OUTDIR ?? 'cdk.out' });
const stack = new Stack(app, 'ScalableWordPressExample');

const zone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', {
  hostedZoneId: process.env.EXAMPLE_HOSTED_ZONE_ID ?? 'Z0000000EXAMPLE',
  zoneName: process.env.EXAMPLE_ZONE_NAME ?? 'example.com',
});

new ScalableWordPress(stack, 'Blog', {
  database: WordPressDatabase.auroraReplicas({ readers: 2 }),
  media: WordPressMedia.efs(),
  domainName: `blog.${zone.zoneName}`,
  domainZone: zone,
});

const assembly = app.synth();
const template = assembly.getStackByName(stack.stackName);
console.log(`Synthesized ${stack.stackName} to ${assembly.directory}/${template.templateFile} ` +
  `(${Object.keys(template.template.Resources).length} resources)`);
