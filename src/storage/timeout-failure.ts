/**
 * True when a failure was a timeout, ours (S3DeadlineError, named so) or the SDK's: the server
 * is unlikely to answer a clean-up either. Apart from s3.ts so that the publish protocol can ask
 * without loading the AWS SDK, which a local run never needs.
 */
export function isTimeoutFailure(error: unknown): boolean {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    if (cause.name === 'TimeoutError') return true;
  }
  return false;
}
