/** Go's time.Duration.String() (decision 4): status.lastSyncDuration looks like "3m10.261673933s". */

const NS_PER_US = 1_000n;
const NS_PER_MS = 1_000_000n;
const NS_PER_S = 1_000_000_000n;

/** Formats a duration given in NANOSECONDS exactly as Go does ("1h2m3.5s", "1.5ms", "0s"). */
export function formatGoDuration(nanoseconds: bigint | number): string {
  let ns = typeof nanoseconds === 'bigint' ? nanoseconds : BigInt(Math.round(nanoseconds));
  if (ns === 0n) return '0s';
  const sign = ns < 0n ? '-' : '';
  if (ns < 0n) ns = -ns;
  // Below one second Go switches to the largest unit that keeps the integer part non-zero.
  if (ns < NS_PER_US) return `${sign}${ns}ns`;
  if (ns < NS_PER_MS) return `${sign}${withFraction(ns, NS_PER_US)}µs`;
  if (ns < NS_PER_S) return `${sign}${withFraction(ns, NS_PER_MS)}ms`;
  const hours = ns / (3600n * NS_PER_S);
  const minutes = (ns / (60n * NS_PER_S)) % 60n;
  const seconds = withFraction(ns % (60n * NS_PER_S), NS_PER_S);
  if (hours > 0n) return `${sign}${hours}h${minutes}m${seconds}s`;
  if (minutes > 0n) return `${sign}${minutes}m${seconds}s`;
  return `${sign}${seconds}s`;
}

/** Formats a duration given in MILLISECONDS (what differences of Date values give). */
export function formatGoDurationMs(milliseconds: number): string {
  return formatGoDuration(BigInt(Math.round(milliseconds)) * NS_PER_MS);
}

/** value/unit as a decimal with trailing zeros of the fraction dropped, as Go prints it. */
function withFraction(value: bigint, unit: bigint): string {
  const whole = value / unit;
  const rest = value % unit;
  if (rest === 0n) return `${whole}`;
  const digits = unit.toString().length - 1;
  return `${whole}.${rest.toString().padStart(digits, '0').replace(/0+$/, '')}`;
}
