import { Annotations, Aws, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as ses from 'aws-cdk-lib/aws-ses';
import { Construct } from 'constructs';
import { acknowledge } from './private/nag';

/** @internal */
export interface EmailContext {
  /** The site's hosted zone: its domain becomes an SES identity, signed with DKIM. */
  readonly domainZone?: route53.IHostedZone;
  /** The address WordPress sends from (the `emailFrom` prop). */
  readonly emailFrom?: string;
  /** The instance role, allowed to send from that address only. */
  readonly role: iam.IRole;
}

/** @internal */
export interface BoundEmail {
  readonly identity?: ses.EmailIdentity;
  /** The address WordPress sends from; undefined when the site has no way to send mail. */
  readonly fromAddress?: string;
}

/** An address plain enough for a systemd unit and a shell: letters, digits and . _ % + - before the @. */
const EMAIL = /^[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)$/;

/**
 * Outbound email through Amazon SES: with a hosted zone, its domain as an SES identity with Easy DKIM records in
 * the zone, and the instance role allowed to send mail from the site's address (and no other) through the SES
 * API. The instances hand WordPress's mail to SES themselves (assets/boot/mail.php): no mail server and no
 * SMTP credentials.
 *
 * @internal
 */
export function createEmail(scope: Construct, context: EmailContext): BoundEmail {
  const zone = context.domainZone;
  const zoneName = zone && !Token.isUnresolved(zone.zoneName) ? zone.zoneName.replace(/\.$/, '') : undefined;
  const fromAddress = context.emailFrom ?? (zoneName ? `wordpress@${zoneName}` : undefined);
  if (fromAddress === undefined) {
    Annotations.of(scope).addWarningV2('cdk-scalable-wordpress:noEmail',
      'WordPress sends no email (password resets, new users, comment notices): the site has no domain whose zone SES could verify. ' +
      'Set domainName and domainZone, or emailFrom with an address of an identity you verified in Amazon SES.');
    return {};
  }
  const match = Token.isUnresolved(fromAddress) ? undefined : EMAIL.exec(fromAddress);
  if (!Token.isUnresolved(fromAddress) && !match) {
    throw new Error(`emailFrom is '${fromAddress}', which is not an email address. Pass an address such as 'wordpress@example.com'.`);
  }
  let identity: ses.EmailIdentity | undefined;
  if (zone && zoneName) {
    identity = new ses.EmailIdentity(scope, 'EmailIdentity', { identity: ses.Identity.domain(zoneName) });
    // Easy DKIM: three CNAMEs in the zone, the records SES gives for the domain. Their names are already fully
    // qualified, so they are written as they are (route53.CnameRecord would append the zone's name once more).
    const records: [string, string][] = [
      [identity.dkimDnsTokenName1, identity.dkimDnsTokenValue1],
      [identity.dkimDnsTokenName2, identity.dkimDnsTokenValue2],
      [identity.dkimDnsTokenName3, identity.dkimDnsTokenValue3],
    ];
    records.forEach(([name, value], i) => new route53.CfnRecordSet(scope, `EmailDkim${i + 1}`, {
      hostedZoneId: zone.hostedZoneId, name, type: 'CNAME', resourceRecords: [value], ttl: '1800',
    }));
    const fromDomain = match?.[1];
    if (fromDomain && fromDomain !== zoneName && !fromDomain.endsWith(`.${zoneName}`)) {
      Annotations.of(scope).addWarningV2('cdk-scalable-wordpress:emailFromOtherDomain',
        `emailFrom '${fromAddress}' is not in ${zoneName}, the domain the construct verifies in SES: verify ${fromDomain} (or the address) in SES yourself, ` +
        `or send from an address in ${zoneName}.`);
    }
  }
  // The SES v2 SendEmail API (raw messages too) is authorized as ses:SendEmail on the identities it uses; the
  // condition keeps the instances to the site's own From address.
  context.role.addToPrincipalPolicy(new iam.PolicyStatement({
    actions: ['ses:SendEmail', 'ses:SendRawEmail'],
    resources: [`arn:${Aws.PARTITION}:ses:${Aws.REGION}:${Aws.ACCOUNT_ID}:identity/*`],
    conditions: { StringEquals: { 'ses:FromAddress': fromAddress } },
  }));
  acknowledge(context.role, 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ses:<AWS::Region>:<AWS::AccountId>:identity/*]',
    'SES authorizes a send against every identity it involves (the sender\'s domain or address, and in the sandbox the recipients); ' +
    'the ses:FromAddress condition limits the instances to the site\'s own From address');
  return { identity, fromAddress };
}
