// A domain with HTTPS: certificate, alias records and Route 53 health check. The hosted zone is given at
// deploy time by INTEG_HOSTED_ZONE_ID and INTEG_ZONE_NAME; the committed snapshot uses the placeholders.
import * as route53 from 'aws-cdk-lib/aws-route53';
import { integSite } from './integ-site';

const zoneName = process.env.INTEG_ZONE_NAME ?? 'example.com';
const hostedZoneId = process.env.INTEG_HOSTED_ZONE_ID ?? 'Z0000000000000000000';

// The shared assertions fetch https://wp-integ.<zone>/, /healthz.php and /wp-login.php: over HTTPS,
// with the certificate the stack created, through the alias record it created.
integSite('domain', (stack) => ({
  domainName: `wp-integ.${zoneName}`,
  domainZone: route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId, zoneName }),
}));
