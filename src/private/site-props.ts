import { Annotations, Duration, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ensureInteger } from './validation';

/**
 * Checks and normalizations of `ScalableWordPressProps` that need no construct tree: each throws with
 * the prop, the value it received and the fix, or returns the value the site should use.
 */

export interface Capacity {
  readonly min: number;
  readonly max: number;
}

export function validateCapacity(minCapacity: number | undefined, maxCapacity: number | undefined, singleInstance: boolean): Capacity {
  if (singleInstance) {
    for (const [prop, value] of [['minCapacity', minCapacity], ['maxCapacity', maxCapacity]] as const) {
      if (value !== undefined && value !== 1) {
        throw new Error(
          `${prop} is ${value}, but WordPressMedia.ebs() keeps wp-content on one volume that only one instance can attach. ` +
          `Use media: WordPressMedia.efs() to run more than one instance, or set ${prop} to 1.`,
        );
      }
    }
    return { min: 1, max: 1 };
  }
  const min = minCapacity ?? 2;
  ensureInteger('minCapacity', min, 1, 1000, 'A site needs at least one instance.');
  const max = maxCapacity ?? Math.max(min, 4);
  ensureInteger('maxCapacity', max, 1, 1000, 'A site needs at least one instance.');
  if (min > max) {
    throw new Error(`minCapacity (${min}) is greater than maxCapacity (${max}). Raise maxCapacity to at least ${min}, or lower minCapacity.`);
  }
  return { min, max };
}

/** One DNS label: letters, digits and inner hyphens, 1 to 63 characters. */
const DNS_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * The domain name as DNS, the certificate and WordPress need it: lower case and without a trailing dot.
 * Route 53 matches record names against the zone case-sensitively at synth time, and WordPress compares
 * the host of every request with the site URL, so `Blog.Example.com.` becomes `blog.example.com`.
 * A URL, a port or anything that is not a host name fails.
 */
export function normalizeDomainName(domainName: string): string {
  if (Token.isUnresolved(domainName)) {
    return domainName;
  }
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(domainName) ? tryUrl(domainName) : undefined;
  if (url) {
    throw new Error(`domainName is '${domainName}', but it must be a host name, without a scheme or path. Use domainName: '${url.hostname.replace(/\.$/, '')}'.`);
  }
  const name = domainName.trim().toLowerCase().replace(/\.$/, '');
  const labels = name.split('.');
  if (name.length > 253 || labels.length < 2 || !labels.every((label) => DNS_LABEL.test(label))) {
    throw new Error(
      `domainName is '${domainName}', but it must be a host name such as 'blog.example.com': two or more labels of letters, ` +
      'digits and inner hyphens, with no scheme, port, path, wildcard or spaces.',
    );
  }
  return name;
}

function tryUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

/** `domainName`, `domainZone` and `certificate` make sense only together. `domainName` is normalized. */
export function validateDomain(domainName: string | undefined, domainZone: route53.IHostedZone | undefined, hasCertificate: boolean) {
  if (hasCertificate && !domainName) {
    throw new Error('certificate is set but domainName is not. Set domainName to the name the certificate covers (and domainZone to its hosted zone).');
  }
  if (domainZone && !domainName) {
    throw new Error(
      `domainZone is set (${Token.isUnresolved(domainZone.zoneName) ? 'a hosted zone' : `'${domainZone.zoneName}'`}) but domainName is not, ` +
      'so the zone would get no record. Set domainName to the site\'s name in that zone, e.g. \'www.\' followed by the zone name, or remove domainZone.',
    );
  }
  if (domainName && !domainZone) {
    throw new Error(`domainName is '${domainName}' but domainZone is not set. Pass the Route 53 hosted zone that holds ${domainName} as domainZone.`);
  }
  if (domainName && domainZone && !Token.isUnresolved(domainName) && !Token.isUnresolved(domainZone.zoneName)) {
    const zoneName = domainZone.zoneName.replace(/\.$/, '').toLowerCase();
    if (domainName !== zoneName && !domainName.endsWith(`.${zoneName}`)) {
      throw new Error(`domainName '${domainName}' is not in domainZone '${domainZone.zoneName}'. Use a name that ends in ${zoneName}, or the zone that holds ${domainName}.`);
    }
  }
}

/** The page cache's lifetime in whole seconds: at most a day, with a warning past 10 minutes. */
export function pageCacheTtlSeconds(scope: Construct, ttl: Duration | undefined): number {
  if (ttl === undefined) {
    return 60;
  }
  const seconds = ttl.toSeconds({ integral: false });
  if (Token.isUnresolved(seconds)) {
    throw new Error('pageCacheTtl must be a literal Duration: the instances read it at boot. Use e.g. Duration.minutes(1).');
  }
  ensureInteger('pageCacheTtl (in seconds)', seconds, 0, 86400, 'Use e.g. Duration.minutes(1), or Duration.seconds(0) to turn the cache off.');
  if (seconds > 600) {
    Annotations.of(scope).addWarningV2('cdk-scalable-wordpress:longPageCache',
      `pageCacheTtl is ${seconds} s: after a change that purges nothing (options, menus, widgets, themes), anonymous visitors may see ` +
      'the old page for that long; only posts and approved comments purge the cache. Consider at most Duration.minutes(10).');
  }
  return seconds;
}

export function validateScalingTargets(cpu: number | undefined, requests: number | undefined) {
  if (cpu !== undefined && !Token.isUnresolved(cpu) && !(cpu > 0 && cpu <= 100)) {
    throw new Error(`targetCpuUtilizationPercent is ${cpu}, but it must be above 0 and at most 100. Use e.g. 60.`);
  }
  if (requests !== undefined && !Token.isUnresolved(requests) && !(Number.isInteger(requests) && requests > 0)) {
    throw new Error(`targetRequestsPerMinute is ${requests}, but it must be a whole number above 0. Use e.g. 1200.`);
  }
}

/**
 * Memory of the sizes below 2 GiB, in MiB (the same in every burstable family that has them). The boot
 * keeps 768 MiB for the system, nginx and OPcache and runs at least 4 PHP-FPM workers of about 80 MiB
 * (assets/boot/boot.sh): below 2 GiB a busy instance runs out of memory.
 */
const SMALL_SIZES_MIB: Record<string, number> = { nano: 512, micro: 1024 };

export function validateInstanceType(instanceType: ec2.InstanceType) {
  const name = instanceType.toString();
  if (Token.isUnresolved(name)) {
    return;
  }
  const memory = SMALL_SIZES_MIB[name.split('.')[1]];
  if (memory !== undefined) {
    throw new Error(
      `instanceType is ${name}, with ${memory} MiB of memory, but each instance needs at least 2 GiB: the boot keeps 768 MiB for the ` +
      'system and runs at least four PHP-FPM workers of about 80 MiB. Use a small or larger size, e.g. t3.small, or the default m5.large.',
    );
  }
}

/**
 * What WordPress accepts (sanitize_user in strict mode): letters, digits, spaces and `_ . - @`, 1 to 60 characters.
 * The admin is created at first boot: a name WordPress would change or refuse fails the boot, not the synth.
 */
const WORDPRESS_USERNAME = /^[A-Za-z0-9 _.@-]{1,60}$/;
/** WordPress's is_email(), in short: a local part, an @, and a domain of two or more labels. */
const EMAIL = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/;

export function validateAdmin(adminUsername: string, adminEmail: string) {
  if (!Token.isUnresolved(adminUsername) && (!WORDPRESS_USERNAME.test(adminUsername) || adminUsername.trim() !== adminUsername)) {
    throw new Error(
      `adminUsername is '${adminUsername}', but WordPress usernames are 1 to 60 letters, digits, spaces and _ . - @, ` +
      'with no space at either end. Use e.g. \'wpadmin\' (the default).',
    );
  }
  if (!Token.isUnresolved(adminEmail) && !EMAIL.test(adminEmail)) {
    throw new Error(`adminEmail is '${adminEmail}', but WordPress needs an email address, e.g. 'admin@example.com', for the administrator's password resets.`);
  }
}

/** Access logs on with a bucket the load balancer can write to: SSE-S3, since it cannot write with KMS. */
export function validateAccessLogs(accessLogs: boolean | undefined, accessLogBucket: s3.IBucket | undefined) {
  if (accessLogs === false && accessLogBucket) {
    throw new Error('accessLogs is false but accessLogBucket is set. Drop accessLogBucket, or leave accessLogs on.');
  }
  if (accessLogBucket?.encryptionKey) {
    throw new Error('accessLogBucket is encrypted with a KMS key, but load balancers write access logs only to buckets encrypted with ' +
      'S3-managed keys (SSE-S3). Pass a bucket with encryption: BucketEncryption.S3_MANAGED, or leave accessLogBucket out.');
  }
}
