import { randomBytes } from 'node:crypto';

/** After a rotation the old secret signs too, for this long, so receivers can switch without losing events. */
export const SECRET_ROTATION_GRACE_SECONDS = 24 * 3600;
/** Old secrets kept signing at once; rotating more often than this within the grace period drops the oldest. */
const MAX_PREVIOUS_SECRETS = 4;

/** A secret replaced by a rotation, which keeps signing beside the new one until it expires. */
interface PreviousSecret {
  secret: string;
  expiresAt: string;
}

/** What a stored subscription signs with. */
export interface SubscriptionSecrets {
  secret: string;
  previousSecrets?: PreviousSecret[];
}

export function generateSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/**
 * A rotation's result: a new secret, and the old one kept signing beside it for SECRET_ROTATION_GRACE_SECONDS
 * ahead of those rotated out before and not yet expired.
 */
export function rotatedSecrets(current: SubscriptionSecrets, now: Date): Required<SubscriptionSecrets> {
  return {
    secret: generateSigningSecret(),
    previousSecrets: [
      {
        secret: current.secret,
        expiresAt: new Date(now.getTime() + SECRET_ROTATION_GRACE_SECONDS * 1000).toISOString(),
      },
      ...unexpiredSecrets(current, now),
    ].slice(0, MAX_PREVIOUS_SECRETS),
  };
}

/** The secrets that sign a delivery at `now`: the current one first, then those rotated out recently. */
export function signingSecrets(subscription: SubscriptionSecrets, now: Date = new Date()): string[] {
  return [subscription.secret, ...unexpiredSecrets(subscription, now).map((previous) => previous.secret)];
}

function unexpiredSecrets(subscription: SubscriptionSecrets, now: Date): PreviousSecret[] {
  return (subscription.previousSecrets ?? []).filter(
    (previous) => Date.parse(previous.expiresAt) > now.getTime(),
  );
}
