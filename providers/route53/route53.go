// Package route53 implements the libdns interfaces that dnscert needs,
// [libdns.RecordAppender], [libdns.RecordDeleter] and [libdns.ZoneLister],
// for Amazon Route 53 with the AWS SDK for Go v2. It manages TXT records.
//
// Route 53 stores all values of one name and type as one resource record
// set, and ChangeResourceRecordSets replaces a set as a whole. To add or
// remove single values while keeping the values that others put there,
// each call to AppendRecords or DeleteRecords
//
//  1. reads the affected record sets with ListResourceRecordSets, each
//     request starting at the first affected name not yet read and asking
//     for a few sets per such name, so it does not page through the zone;
//  2. sends one change batch per hosted zone that deletes each existing
//     set exactly as read and creates it again with the new values and the
//     old TTL. If someone else changed a set since the read, Route 53 then
//     rejects the whole batch (InvalidChangeBatch) and that change is kept;
//  3. after such a rejection reads the sets again and retries, a bounded
//     number of times;
//  4. polls GetChange until Route 53 reports the change INSYNC, which it
//     does once all its name servers serve it.
//
// The SDK retries throttled requests (Throttling, PriorRequestNotComplete),
// 5xx responses and network errors with exponential backoff and jitter.
//
// This package does not use github.com/libdns/route53 v1.6.1. Its
// AppendRecords lists the whole zone once per record set and writes with
// UPSERT, which drops values that another client added in between. Its
// zone lookup reads only the first hosted zone of a name, so a private zone
// listed first hides the public one.
package route53

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/libdns/libdns"
)

// Defaults for the zero values of [Options].
const (
	// DefaultRegion is the signing region of Route 53's global endpoint in
	// the aws partition.
	DefaultRegion = "us-east-1"
	// DefaultMaxAttempts allows eight retries. With the backoff of this
	// package they wait about 36 to 72 seconds in total.
	DefaultMaxAttempts = 9
	// DefaultSyncTimeout bounds the wait for INSYNC. The
	// ChangeResourceRecordSets API reference states that changes generally
	// reach all Route 53 name servers within 60 seconds.
	DefaultSyncTimeout = 2 * time.Minute
	// DefaultPollInterval is the first wait before GetChange. The wait
	// doubles after each PENDING status, up to maxPollInterval.
	DefaultPollInterval = 2 * time.Second
)

// Options configures a [Provider]. The zero value uses the SDK's default
// credential chain and the defaults above.
type Options struct {
	// AccessKeyID, SecretAccessKey and the optional SessionToken set static
	// credentials. When AccessKeyID is empty, the SDK's default credential
	// chain supplies them: the AWS_ACCESS_KEY_ID environment variables, the
	// shared config and credentials files (AWS_PROFILE), web identity
	// (AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE), IAM Identity Center,
	// and container or EC2 instance roles.
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string

	// Profile selects a profile of the shared config and credentials files.
	// Empty means AWS_PROFILE, or "default".
	Profile string

	// Region signs the requests. Empty means the region that the SDK finds
	// (AWS_REGION, AWS_DEFAULT_REGION or the profile), else DefaultRegion.
	Region string

	// HostedZoneID pins the hosted zone, such as "Z0123456789ABCDEFGHIJ"
	// (a "/hostedzone/" prefix is accepted). Every record must lie inside
	// it, and ListZones returns only it. Empty means each record goes to the
	// public hosted zone with the longest name that contains it.
	HostedZoneID string

	// MaxAttempts bounds the attempts of each API request, the first one
	// included. Zero means AWS_MAX_ATTEMPTS when set, else
	// DefaultMaxAttempts. One turns retries off.
	MaxAttempts int

	// SyncTimeout bounds the wait for a change to become INSYNC. Zero means
	// DefaultSyncTimeout.
	SyncTimeout time.Duration

	// PollInterval is the first wait before GetChange. Zero means
	// DefaultPollInterval.
	PollInterval time.Duration

	// Logger receives debug events and warnings about retried change
	// batches. Nil discards them. Credentials are never logged.
	Logger *slog.Logger

	// SettingNames maps the Go names of the fields above, such as
	// "HostedZoneID", to the names under which the user set them, such as
	// an environment variable, for error messages. Fields not in the map
	// are called by their Go names.
	SettingNames map[string]string
}

// SettingError reports an invalid or unusable [Options] field. Err never
// contains a secret.
type SettingError struct {
	Field string // the Go field name, such as "HostedZoneID"
	Name  string // the name from Options.SettingNames, or Field
	Err   error
}

func (e *SettingError) Error() string {
	return e.Name + ": " + e.Err.Error()
}

func (e *SettingError) Unwrap() error { return e.Err }

// settingNames maps Options field names to the names shown in errors.
type settingNames map[string]string

func (n settingNames) of(field string) string {
	if name, ok := n[field]; ok && name != "" {
		return name
	}
	return field
}

func (n settingNames) errorf(field, format string, args ...any) *SettingError {
	return &SettingError{Field: field, Name: n.of(field), Err: fmt.Errorf(format, args...)}
}

// Provider adds and deletes TXT records in Route 53 hosted zones. It is
// safe for concurrent use. Build it with [New].
type Provider struct {
	client       *route53.Client
	credentials  aws.CredentialsProvider
	names        settingNames
	partition    string // ARN partition of the region, for IAM hints
	pinnedZoneID string
	syncTimeout  time.Duration
	pollInterval time.Duration
	log          *slog.Logger

	mu sync.Mutex
	// zones caches, per requested zone name, the hosted zones that may
	// hold its records.
	zones map[string][]hostedZone
	// pinned caches the hosted zone named by Options.HostedZoneID.
	pinned *hostedZone
}

// Interface guards.
var (
	_ libdns.RecordAppender = (*Provider)(nil)
	_ libdns.RecordDeleter  = (*Provider)(nil)
	_ libdns.ZoneLister     = (*Provider)(nil)
)

// hostedZoneIDPattern matches Route 53 hosted zone IDs, which are upper
// case letters and digits.
var hostedZoneIDPattern = regexp.MustCompile(`^[A-Z0-9]{1,32}$`)

// New validates opts and builds the SDK client. It reads the shared
// config files but sends no network traffic: the credential chain runs on
// the first request. Validation errors are [*SettingError] values joined
// with [errors.Join].
func New(ctx context.Context, opts Options) (*Provider, error) {
	names := settingNames(opts.SettingNames)
	if err := opts.validate(names); err != nil {
		return nil, err
	}

	loadOpts := []func(*config.LoadOptions) error{config.WithDefaultRegion(DefaultRegion)}
	if opts.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(opts.Region))
	}
	if opts.Profile != "" {
		loadOpts = append(loadOpts, config.WithSharedConfigProfile(opts.Profile))
	}
	if opts.AccessKeyID != "" {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(opts.AccessKeyID, opts.SecretAccessKey, opts.SessionToken)))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		if opts.Profile != "" {
			return nil, names.errorf("Profile", "loading the AWS configuration failed: %w; check the profile name, AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE", err)
		}
		return nil, fmt.Errorf("route53: loading the AWS configuration failed: %w; check AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE", err)
	}

	attempts := opts.MaxAttempts
	if attempts == 0 {
		attempts = cfg.RetryMaxAttempts
	}
	if attempts == 0 {
		attempts = DefaultMaxAttempts
	}

	p := &Provider{
		credentials:  cfg.Credentials,
		names:        names,
		partition:    partitionOf(cfg.Region),
		pinnedZoneID: strings.TrimPrefix(opts.HostedZoneID, "/hostedzone/"),
		syncTimeout:  cmp.Or(opts.SyncTimeout, DefaultSyncTimeout),
		pollInterval: cmp.Or(opts.PollInterval, DefaultPollInterval),
		log:          opts.Logger,
		zones:        make(map[string][]hostedZone),
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	// Only the retryer is replaced. The endpoint stays with the SDK, so
	// AWS_ENDPOINT_URL_ROUTE_53 and AWS_ENDPOINT_URL keep working.
	p.client = route53.NewFromConfig(cfg, func(o *route53.Options) {
		o.Retryer = newRetryer(attempts)
		// NewFromConfig would otherwise wrap the retryer again with the
		// attempts of AWS_MAX_ATTEMPTS, which attempts already honours.
		o.RetryMaxAttempts = 0
	})
	return p, nil
}

func (opts Options) validate(names settingNames) error {
	var errs []error
	fail := func(field, format string, args ...any) {
		errs = append(errs, names.errorf(field, format, args...))
	}
	switch {
	case opts.AccessKeyID != "" && opts.SecretAccessKey == "":
		fail("SecretAccessKey", "missing while %s is set; set both, or neither to use the default credential chain", names.of("AccessKeyID"))
	case opts.AccessKeyID == "" && opts.SecretAccessKey != "":
		fail("AccessKeyID", "missing while %s is set; set both, or neither to use the default credential chain", names.of("SecretAccessKey"))
	case opts.AccessKeyID == "" && opts.SessionToken != "":
		fail("SessionToken", "set without %s and %s; a session token only works with the temporary keys it was issued with", names.of("AccessKeyID"), names.of("SecretAccessKey"))
	}
	if strings.ContainsAny(opts.AccessKeyID, " \t\r\n") {
		fail("AccessKeyID", "contains white space; copy the key ID without spaces or line breaks")
	}
	if id := opts.HostedZoneID; id != "" && !hostedZoneIDPattern.MatchString(strings.TrimPrefix(id, "/hostedzone/")) {
		fail("HostedZoneID", "invalid hosted zone ID %q; use the ID that the Route 53 console or `aws route53 list-hosted-zones` shows, such as Z0123456789ABCDEFGHIJ", id)
	}
	if opts.MaxAttempts < 0 {
		fail("MaxAttempts", "negative value %d; use 1 or more, or 0 for the default", opts.MaxAttempts)
	}
	if opts.SyncTimeout < 0 {
		fail("SyncTimeout", "negative duration %s; use a positive duration, or 0 for the default", opts.SyncTimeout)
	}
	if opts.PollInterval < 0 {
		fail("PollInterval", "negative duration %s; use a positive duration, or 0 for the default", opts.PollInterval)
	}
	return errors.Join(errs...)
}

// AppendRecords adds the TXT values of records to zone and returns the
// records it added. Values that are already present are left alone and
// not returned. A value added to an existing record set takes that set's
// TTL, because Route 53 keeps one TTL per set. Names are relative to zone,
// or absolute with a trailing dot, and are compared without regard to
// case.
func (p *Provider) AppendRecords(ctx context.Context, zone string, records []libdns.Record) ([]libdns.Record, error) {
	return p.update(ctx, opAppend, zone, records)
}

// DeleteRecords removes the TXT values of records from zone and returns
// the records it removed. Values that are already gone are skipped.
// Values are matched by text regardless of TTL, because an appended value
// takes the TTL of its set. An empty text matches only the empty string.
func (p *Provider) DeleteRecords(ctx context.Context, zone string, records []libdns.Record) ([]libdns.Record, error) {
	return p.update(ctx, opDelete, zone, records)
}

// ListZones returns the public hosted zones that the credentials can see,
// or only the pinned zone when Options.HostedZoneID is set. Private zones
// are left out, because a public certificate authority cannot query them.
func (p *Provider) ListZones(ctx context.Context) ([]libdns.Zone, error) {
	if err := p.checkCredentials(ctx); err != nil {
		return nil, wrapError(nil, err)
	}
	if p.pinnedZoneID != "" {
		hz, err := p.pinnedZone(ctx)
		if err != nil {
			return nil, wrapError(nil, err)
		}
		return []libdns.Zone{{Name: hz.name}}, nil
	}
	all, err := p.listHostedZones(ctx, "", nil)
	if err != nil {
		return nil, wrapError(nil, err)
	}
	var zones []libdns.Zone
	for _, hz := range all {
		if !hz.private {
			zones = append(zones, libdns.Zone{Name: hz.name})
		}
	}
	return zones, nil
}

// checkCredentials runs the credential chain, or returns the credentials
// it cached, so that missing credentials get an error that explains how to
// provide them. The SDK's own error for that case has no type to check.
func (p *Provider) checkCredentials(ctx context.Context) error {
	if p.credentials == nil {
		return nil
	}
	if _, err := p.credentials.Retrieve(ctx); err != nil {
		return &CredentialsError{Err: err, missing: true}
	}
	return nil
}
