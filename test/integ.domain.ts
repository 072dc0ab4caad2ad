// A domain with HTTPS through CloudFront and AWS WAF: the certificate, the web ACL, alias records and a Route 53
// health check. CloudFront takes its certificate and web ACL from us-east-1, so the stack is there. The hosted
// zone is given at deploy time by INTEG_HOSTED_ZONE_ID and INTEG_ZONE_NAME; the committed snapshot uses placeholders.
import * as route53 from 'aws-cdk-lib/aws-route53';
import { WordPressEdge } from '../src';
import { assertEdge, integSite } from './integ-site';

const zoneName = process.env.INTEG_ZONE_NAME ?? 'example.com';
const hostedZoneId = process.env.INTEG_HOSTED_ZONE_ID ?? 'Z0000000000000000000';

// The shared assertions fetch https://wp-integ.<zone>/, /healthz.php and /wp-login.php: over HTTPS,
// with the certificate the stack created, through the alias record it created, through CloudFront.
const { integ, site } = integSite('domain', (stack) => ({
  edge: WordPressEdge.cloudFront(),
  domainName: `wp-integ.${zoneName}`,
  domainZone: route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId, zoneName }),
}), { env: { region: 'us-east-1' } });
assertEdge(integ, site);
