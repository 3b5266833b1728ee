package providers

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/dnscert/dnscert/providers/route53"
)

// route53Vars maps the fields of route53.Options to the variables that set
// them. AWS_HOSTED_ZONE_ID, AWS_MAX_RETRIES, AWS_PROPAGATION_TIMEOUT and
// AWS_POLLING_INTERVAL are the names of lego's route53 provider, where the
// last two also bound and pace its wait for INSYNC, so existing
// configurations carry over. The other AWS_* variables that the SDK reads itself, such as
// AWS_ROLE_ARN, AWS_CONFIG_FILE and AWS_ENDPOINT_URL_ROUTE_53, work as
// usual.
var route53Vars = map[string]string{
	"AccessKeyID":     "AWS_ACCESS_KEY_ID",
	"SecretAccessKey": "AWS_SECRET_ACCESS_KEY",
	"SessionToken":    "AWS_SESSION_TOKEN",
	"Profile":         "AWS_PROFILE",
	"Region":          "AWS_REGION",
	"HostedZoneID":    "AWS_HOSTED_ZONE_ID",
	"MaxAttempts":     "AWS_MAX_RETRIES",
	"SyncTimeout":     "AWS_PROPAGATION_TIMEOUT",
	"PollInterval":    "AWS_POLLING_INTERVAL",
}

func route53Info() Info {
	return Info{
		Name: "route53",
		Usage: "Amazon Route 53, with credentials from the AWS SDK's default chain " +
			"(environment keys, AWS_PROFILE, web identity, or an instance or container role)",
		Example: "AWS_PROFILE=dnscert dnscert issue --dns route53 -d example.com",
		Vars: []Var{
			{
				Name:  "AWS_ACCESS_KEY_ID",
				Usage: "the access key ID of static credentials (unset to use the SDK's default credential chain)",
			},
			{
				Name:   "AWS_SECRET_ACCESS_KEY",
				Secret: true,
				Usage:  "the secret access key that belongs to AWS_ACCESS_KEY_ID",
			},
			{
				Name:   "AWS_SESSION_TOKEN",
				Secret: true,
				Usage:  "the session token of temporary keys, together with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
			},
			{
				Name:  "AWS_PROFILE",
				Usage: "the profile to use from the shared config and credentials files (~/.aws/config, ~/.aws/credentials)",
			},
			{
				Name:    "AWS_REGION",
				Aliases: []string{"AWS_DEFAULT_REGION"},
				Usage:   "the region that signs requests (default: the profile's region, else us-east-1, where the global Route 53 endpoint is)",
			},
			{
				Name:  "AWS_HOSTED_ZONE_ID",
				Usage: "the ID of the hosted zone to change, such as Z0123456789ABCDEFGHIJ (unset to use the public hosted zone with the longest name that contains each record)",
			},
			{
				Name:  "AWS_MAX_RETRIES",
				Usage: "the number of retries of a request that Route 53 throttles or that fails with a 5xx status or a network error, with exponential backoff (default 8)",
			},
			{
				Name:  "AWS_PROPAGATION_TIMEOUT",
				Usage: "the maximum time to wait for Route 53 to report a change INSYNC on all its name servers, as a Go duration such as 2m or as whole seconds (default 2m)",
			},
			{
				Name:  "AWS_POLLING_INTERVAL",
				Usage: "the first wait between GetChange requests while a change is PENDING, doubling up to 10s, as a Go duration such as 2s or as whole seconds (default 2s)",
			},
		},
		CredentialVars: []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"},
		New:            newRoute53,
	}
}

func newRoute53(cfg Config) (Provider, error) {
	var opts route53.Options
	for _, setting := range []struct {
		name string
		dst  *string
	}{
		{"AWS_ACCESS_KEY_ID", &opts.AccessKeyID},
		{"AWS_SECRET_ACCESS_KEY", &opts.SecretAccessKey},
		{"AWS_SESSION_TOKEN", &opts.SessionToken},
		{"AWS_PROFILE", &opts.Profile},
		{"AWS_REGION", &opts.Region},
		{"AWS_HOSTED_ZONE_ID", &opts.HostedZoneID},
	} {
		value, err := cfg.Get(setting.name)
		if err != nil {
			return nil, err
		}
		*setting.dst = value
	}

	retries, err := cfg.Get("AWS_MAX_RETRIES")
	if err != nil {
		return nil, err
	}
	if retries != "" {
		n, err := strconv.Atoi(retries)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%s: invalid retry count %q; use a whole number such as 8, or 0 to turn retries off", cfg.setBy("AWS_MAX_RETRIES"), retries)
		}
		opts.MaxAttempts = n + 1
	}
	for _, setting := range []struct {
		name string
		dst  *time.Duration
	}{
		{"AWS_PROPAGATION_TIMEOUT", &opts.SyncTimeout},
		{"AWS_POLLING_INTERVAL", &opts.PollInterval},
	} {
		value, err := cfg.Get(setting.name)
		if err != nil {
			return nil, err
		}
		d, err := parseSeconds(value)
		if err == nil && d < 0 {
			err = fmt.Errorf("negative duration %q; use a positive duration such as 30s", value)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cfg.setBy(setting.name), err)
		}
		*setting.dst = d
	}

	opts.Logger = cfg.Logger()
	opts.SettingNames = make(map[string]string, len(route53Vars))
	for field, name := range route53Vars {
		opts.SettingNames[field] = cfg.setBy(name)
	}

	p, err := route53.New(context.Background(), opts)
	if err != nil {
		return nil, err
	}
	return p, nil
}
