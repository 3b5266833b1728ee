package route53

import (
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// Backoff of retried requests. Route 53 allows five requests per second
// per account, shared by every client of the account, so the waits start
// at half a second and grow to 20 seconds.
const (
	retryBaseDelay = 500 * time.Millisecond
	retryMaxDelay  = 20 * time.Second
)

// newRetryer returns the SDK's standard retryer with maxAttempts and
// exponential backoff with jitter. Its default retryable errors include
// Throttling and PriorRequestNotComplete (which Route 53 sends with HTTP
// 400), HTTP 500, 502, 503 and 504, and network errors.
func newRetryer(maxAttempts int) aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = maxAttempts
		o.MaxBackoff = retryMaxDelay
		o.Backoff = retry.BackoffDelayerFunc(func(attempt int, _ error) (time.Duration, error) {
			return jitter(min(retryMaxDelay, retryBaseDelay<<min(attempt-1, 16))), nil
		})
	})
}

// jitter returns a random duration between d/2 and d, so that clients
// that failed together do not retry together.
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half+1)
}
