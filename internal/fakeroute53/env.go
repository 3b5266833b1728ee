package fakeroute53

// SDKVariables are the environment variables through which the AWS SDK
// for Go v2 picks up credentials, regions, endpoints and retry settings.
// A test should unset them all before it sets those of [Server.Env], so
// that the settings of the machine it runs on cannot reach AWS.
var SDKVariables = []string{
	"AWS_ACCESS_KEY_ID",
	"AWS_SECRET_ACCESS_KEY",
	"AWS_SESSION_TOKEN",
	"AWS_ACCESS_KEY",
	"AWS_SECRET_KEY",
	"AWS_PROFILE",
	"AWS_DEFAULT_PROFILE",
	"AWS_REGION",
	"AWS_DEFAULT_REGION",
	"AWS_CONFIG_FILE",
	"AWS_SHARED_CREDENTIALS_FILE",
	"AWS_ROLE_ARN",
	"AWS_ROLE_SESSION_NAME",
	"AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	"AWS_EC2_METADATA_DISABLED",
	"AWS_EC2_METADATA_SERVICE_ENDPOINT",
	"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
	"AWS_ENDPOINT_URL",
	"AWS_ENDPOINT_URL_ROUTE_53",
	"AWS_ENDPOINT_URL_STS",
	"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
	"AWS_USE_FIPS_ENDPOINT",
	"AWS_USE_DUALSTACK_ENDPOINT",
	"AWS_MAX_ATTEMPTS",
	"AWS_RETRY_MODE",
	"AWS_CA_BUNDLE",
	"AWS_SDK_LOAD_CONFIG",
}

// Env returns environment variables that send the SDK's Route 53 and STS
// requests to s, turn off the EC2 instance metadata service and the shared
// config files, and set static credentials, which it registers with s.
// An empty accessKeyID leaves the credentials to the caller. No region is
// set, so the caller chooses one or tests the default.
func (s *Server) Env(accessKeyID, secretAccessKey string) map[string]string {
	env := map[string]string{
		"AWS_ENDPOINT_URL_ROUTE_53":   s.URL(),
		"AWS_ENDPOINT_URL_STS":        s.URL(),
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CONFIG_FILE":             "/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
	}
	if accessKeyID != "" {
		s.AddCredentials(accessKeyID, "")
		env["AWS_ACCESS_KEY_ID"] = accessKeyID
		env["AWS_SECRET_ACCESS_KEY"] = secretAccessKey
	}
	return env
}
