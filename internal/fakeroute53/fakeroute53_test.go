package fakeroute53_test

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/dnscert/dnscert/internal/fakeroute53"
)

const testKeyID = "AKIDFAKETEST"

func start(t *testing.T) *fakeroute53.Server {
	t.Helper()
	srv, err := fakeroute53.Start()
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	srv.AddCredentials(testKeyID, "")
	return srv
}

// client returns an SDK client aimed at srv through its options, with
// retries off so that each call is one request.
func client(srv *fakeroute53.Server, keyID string) *route53.Client {
	return route53.New(route53.Options{
		BaseEndpoint:     aws.String(srv.URL()),
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(keyID, "test-secret", ""),
		RetryMaxAttempts: 1,
	})
}

func addZone(t *testing.T, srv *fakeroute53.Server, name string, private bool) string {
	t.Helper()
	id, err := srv.AddZone(name, private)
	if err != nil {
		t.Fatalf("AddZone %s: %v", name, err)
	}
	return id
}

func txtSet(name string, ttl int64, values ...string) *types.ResourceRecordSet {
	rs := &types.ResourceRecordSet{Name: aws.String(name), Type: types.RRTypeTxt, TTL: aws.Int64(ttl)}
	for _, v := range values {
		rs.ResourceRecords = append(rs.ResourceRecords, types.ResourceRecord{Value: aws.String(v)})
	}
	return rs
}

func change(t *testing.T, c *route53.Client, zoneID string, changes ...types.Change) error {
	t.Helper()
	_, err := c.ChangeResourceRecordSets(t.Context(), &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(zoneID),
		ChangeBatch:  &types.ChangeBatch{Changes: changes},
	})
	return err
}

func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

func httpStatus(err error) int {
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) {
		return respErr.HTTPStatusCode()
	}
	return 0
}

func TestAuthorizationRequired(t *testing.T) {
	srv := start(t)
	for _, tc := range []struct {
		name, header, code string
	}{
		{"missing", "", "SignatureDoesNotMatch"},
		{"other scheme", "Bearer abc", "SignatureDoesNotMatch"},
		{"unknown key", "AWS4-HMAC-SHA256 Credential=AKIDUNKNOWN/20250101/us-east-1/route53/aws4_request, SignedHeaders=host, Signature=00", "InvalidClientTokenId"},
		{"other service", "AWS4-HMAC-SHA256 Credential=" + testKeyID + "/20250101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00", "SignatureDoesNotMatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL()+"/2013-04-01/hostedzonesbyname", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("status = %d, want 403", resp.StatusCode)
			}
			for _, want := range []string{"<ErrorResponse", "<Error><Type>Sender</Type><Code>" + tc.code + "</Code>", "<RequestId>"} {
				if !strings.Contains(string(body), want) {
					t.Errorf("body %s does not contain %s", body, want)
				}
			}
		})
	}

	_, err := client(srv, "AKIDUNKNOWN").ListHostedZonesByName(t.Context(), &route53.ListHostedZonesByNameInput{})
	if code := errorCode(err); code != "InvalidClientTokenId" {
		t.Errorf("SDK with an unknown key: error code %q (%v), want InvalidClientTokenId", code, err)
	}
	if srv.Count(fakeroute53.OpListHostedZonesByName) != 5 {
		t.Errorf("ListHostedZonesByName count = %d, want 5 rejected requests counted", srv.Count(fakeroute53.OpListHostedZonesByName))
	}
}

func TestSessionTokenRequired(t *testing.T) {
	srv := start(t)
	srv.AddCredentials("ASIATEMP", "session-token")
	withToken := route53.New(route53.Options{
		BaseEndpoint: aws.String(srv.URL()), Region: "us-east-1", RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("ASIATEMP", "secret", "session-token"),
	})
	if _, err := withToken.ListHostedZonesByName(t.Context(), &route53.ListHostedZonesByNameInput{}); err != nil {
		t.Errorf("with the session token: %v", err)
	}
	_, err := client(srv, "ASIATEMP").ListHostedZonesByName(t.Context(), &route53.ListHostedZonesByNameInput{})
	if code := errorCode(err); code != "InvalidClientTokenId" {
		t.Errorf("without the session token: error code %q, want InvalidClientTokenId", code)
	}
}

func TestListHostedZonesByName(t *testing.T) {
	srv := start(t)
	addZone(t, srv, "b.test", false)
	publicA := addZone(t, srv, "a.test", false)
	privateA := addZone(t, srv, "a.test", true)
	addZone(t, srv, "sub.a.test", false)
	c := client(srv, testKeyID)

	var ids, names []string
	in := &route53.ListHostedZonesByNameInput{MaxItems: aws.Int32(1)}
	for range 10 {
		out, err := c.ListHostedZonesByName(t.Context(), in)
		if err != nil {
			t.Fatalf("ListHostedZonesByName: %v", err)
		}
		for _, z := range out.HostedZones {
			ids = append(ids, strings.TrimPrefix(aws.ToString(z.Id), "/hostedzone/"))
			names = append(names, aws.ToString(z.Name))
		}
		if !out.IsTruncated {
			break
		}
		in.DNSName, in.HostedZoneId = out.NextDNSName, out.NextHostedZoneId
	}
	if want := []string{"a.test.", "a.test.", "sub.a.test.", "b.test."}; !slices.Equal(names, want) {
		t.Errorf("zone names over pages of one = %v, want %v", names, want)
	}
	if len(ids) < 2 || ids[0] != privateA || ids[1] != publicA {
		t.Errorf("zone IDs = %v, want the private a.test (%s) before the public one (%s)", ids, privateA, publicA)
	}

	out, err := c.ListHostedZonesByName(t.Context(), &route53.ListHostedZonesByNameInput{DNSName: aws.String("B.TEST")})
	if err != nil {
		t.Fatalf("ListHostedZonesByName from b.test: %v", err)
	}
	if len(out.HostedZones) != 1 || aws.ToString(out.HostedZones[0].Name) != "b.test." {
		t.Errorf("zones from B.TEST = %v, want only b.test.", out.HostedZones)
	}
	if out.HostedZones[0].Config == nil || out.HostedZones[0].Config.PrivateZone {
		t.Errorf("b.test Config = %+v, want a public zone", out.HostedZones[0].Config)
	}
}

func TestListHostedZonesPaging(t *testing.T) {
	srv := start(t)
	for _, name := range []string{"a.test", "b.test", "c.test"} {
		addZone(t, srv, name, false)
	}
	addZone(t, srv, "d.test", true)
	c := client(srv, testKeyID)

	var names []string
	in := &route53.ListHostedZonesInput{MaxItems: aws.Int32(2)}
	for range 10 {
		out, err := c.ListHostedZones(t.Context(), in)
		if err != nil {
			t.Fatalf("ListHostedZones: %v", err)
		}
		for _, z := range out.HostedZones {
			names = append(names, aws.ToString(z.Name))
		}
		if !out.IsTruncated {
			break
		}
		in.Marker = out.NextMarker
	}
	if want := []string{"a.test.", "b.test.", "c.test.", "d.test."}; !slices.Equal(names, want) {
		t.Errorf("zones = %v, want %v", names, want)
	}
}

func TestGetHostedZone(t *testing.T) {
	srv := start(t)
	id := addZone(t, srv, "example.test", true)
	c := client(srv, testKeyID)

	out, err := c.GetHostedZone(t.Context(), &route53.GetHostedZoneInput{Id: aws.String("/hostedzone/" + id)})
	if err != nil {
		t.Fatalf("GetHostedZone: %v", err)
	}
	if name := aws.ToString(out.HostedZone.Name); name != "example.test." {
		t.Errorf("zone name = %q, want example.test.", name)
	}
	if !out.HostedZone.Config.PrivateZone {
		t.Error("PrivateZone = false, want true")
	}
	_, err = c.GetHostedZone(t.Context(), &route53.GetHostedZoneInput{Id: aws.String("ZMISSING")})
	var noZone *types.NoSuchHostedZone
	if !errors.As(err, &noZone) {
		t.Errorf("missing zone: error %v, want NoSuchHostedZone", err)
	}
	if status := httpStatus(err); status != http.StatusNotFound {
		t.Errorf("missing zone: status %d, want 404", status)
	}
}

func TestListResourceRecordSetsOrder(t *testing.T) {
	srv := start(t)
	id := addZone(t, srv, "example.test", false)
	for _, rs := range []fakeroute53.RecordSet{
		{Name: "www.example.test", Type: "A", TTL: 60, Values: []string{"192.0.2.1"}},
		{Name: "www.example.test", Type: "TXT", TTL: 60, Values: []string{`"w"`}},
		{Name: "_acme-challenge.www.example.test", Type: "TXT", TTL: 60, Values: []string{`"c"`}},
		{Name: "a-b.example.test", Type: "TXT", TTL: 60, Values: []string{`"ab"`}},
		{Name: "*.example.test", Type: "TXT", TTL: 60, Values: []string{`"star"`}},
	} {
		if err := srv.SetRecordSet(id, rs); err != nil {
			t.Fatal(err)
		}
	}
	c := client(srv, testKeyID)

	var got []string
	in := &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(id), MaxItems: aws.Int32(2)}
	for range 10 {
		out, err := c.ListResourceRecordSets(t.Context(), in)
		if err != nil {
			t.Fatalf("ListResourceRecordSets: %v", err)
		}
		for _, rs := range out.ResourceRecordSets {
			got = append(got, aws.ToString(rs.Name)+" "+string(rs.Type))
		}
		if !out.IsTruncated {
			break
		}
		in.StartRecordName, in.StartRecordType = out.NextRecordName, out.NextRecordType
	}
	want := []string{
		"example.test. NS",
		"example.test. SOA",
		`\052.example.test. TXT`,
		"a-b.example.test. TXT",
		"www.example.test. A",
		"www.example.test. TXT",
		"_acme-challenge.www.example.test. TXT",
	}
	if !slices.Equal(got, want) {
		t.Errorf("record sets over pages of two:\n got %q\nwant %q", got, want)
	}

	out, err := c.ListResourceRecordSets(t.Context(), &route53.ListResourceRecordSetsInput{
		HostedZoneId: aws.String(id), StartRecordName: aws.String("WWW.example.test"), StartRecordType: types.RRTypeCname, MaxItems: aws.Int32(1),
	})
	if err != nil {
		t.Fatalf("ListResourceRecordSets from an absent set: %v", err)
	}
	if len(out.ResourceRecordSets) != 1 || string(out.ResourceRecordSets[0].Type) != "TXT" || !out.IsTruncated {
		t.Errorf("from www CNAME: %+v, want the next set, www TXT, and more to come", out.ResourceRecordSets)
	}

	_, err = c.ListResourceRecordSets(t.Context(), &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(id), StartRecordType: types.RRTypeTxt})
	if code := errorCode(err); code != "InvalidInput" {
		t.Errorf("type without name: error code %q, want InvalidInput", code)
	}
}

func TestChangeRules(t *testing.T) {
	srv := start(t)
	id := addZone(t, srv, "example.test", false)
	c := client(srv, testKeyID)
	const name = "_acme-challenge.example.test."

	if err := change(t, c, id, types.Change{Action: types.ChangeActionCreate, ResourceRecordSet: txtSet(name, 60, `"a"`, `"b"`)}); err != nil {
		t.Fatalf("CREATE: %v", err)
	}

	err := change(t, c, id, types.Change{Action: types.ChangeActionCreate, ResourceRecordSet: txtSet(name, 60, `"c"`)})
	var invalid *types.InvalidChangeBatch
	if !errors.As(err, &invalid) || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("CREATE of an existing set: error %v, want InvalidChangeBatch saying it already exists", err)
	}
	if httpStatus(err) != http.StatusBadRequest {
		t.Errorf("CREATE of an existing set: status %d, want 400", httpStatus(err))
	}

	for _, tc := range []struct {
		name string
		set  *types.ResourceRecordSet
	}{
		{"other TTL", txtSet(name, 300, `"a"`, `"b"`)},
		{"missing value", txtSet(name, 60, `"a"`)},
		{"extra value", txtSet(name, 60, `"a"`, `"b"`, `"c"`)},
		{"absent set", txtSet("nothing.example.test.", 60, `"a"`)},
	} {
		err := change(t, c, id, types.Change{Action: types.ChangeActionDelete, ResourceRecordSet: tc.set})
		if !errors.As(err, &invalid) {
			t.Errorf("DELETE with %s: error %v, want InvalidChangeBatch", tc.name, err)
		}
	}

	// A batch is atomic: the valid CREATE must not survive the invalid DELETE.
	err = change(t, c, id,
		types.Change{Action: types.ChangeActionCreate, ResourceRecordSet: txtSet("new.example.test.", 60, `"n"`)},
		types.Change{Action: types.ChangeActionDelete, ResourceRecordSet: txtSet(name, 60, `"wrong"`)},
	)
	if !errors.As(err, &invalid) {
		t.Errorf("mixed batch: error %v, want InvalidChangeBatch", err)
	}
	if _, ok := srv.RecordSet(id, "new.example.test", "TXT"); ok {
		t.Error("the CREATE of a rejected batch was applied")
	}

	// Several errors come in the InvalidChangeBatch document.
	err = change(t, c, id,
		types.Change{Action: types.ChangeActionCreate, ResourceRecordSet: txtSet(name, 60, `"x"`)},
		types.Change{Action: types.ChangeActionDelete, ResourceRecordSet: txtSet("nothing.example.test.", 60, `"a"`)},
	)
	if !errors.As(err, &invalid) || len(invalid.Messages) != 2 {
		t.Errorf("two errors: error %v, want InvalidChangeBatch with two messages", err)
	}

	// DELETE matches values in any order, and DELETE plus CREATE replaces.
	err = change(t, c, id,
		types.Change{Action: types.ChangeActionDelete, ResourceRecordSet: txtSet(name, 60, `"b"`, `"a"`)},
		types.Change{Action: types.ChangeActionCreate, ResourceRecordSet: txtSet(name, 60, `"a"`, `"b"`, `"c"`)},
	)
	if err != nil {
		t.Fatalf("DELETE and CREATE: %v", err)
	}
	if got := srv.TXT(id, name); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("TXT after DELETE and CREATE = %q, want [a b c]", got)
	}

	if err := change(t, c, id, types.Change{Action: types.ChangeActionUpsert, ResourceRecordSet: txtSet(name, 120, `"u"`)}); err != nil {
		t.Fatalf("UPSERT: %v", err)
	}
	rs, _ := srv.RecordSet(id, name, "TXT")
	if rs.TTL != 120 || !slices.Equal(rs.Values, []string{`"u"`}) {
		t.Errorf("set after UPSERT = %+v, want TTL 120 and the single value", rs)
	}

	if err := change(t, c, id, types.Change{Action: types.ChangeActionDelete, ResourceRecordSet: txtSet(name, 120, `"u"`)}); err != nil {
		t.Fatalf("exact DELETE: %v", err)
	}
	if _, ok := srv.RecordSet(id, name, "TXT"); ok {
		t.Error("the set survived an exact DELETE")
	}
}

func TestChangeValidation(t *testing.T) {
	srv := start(t)
	id := addZone(t, srv, "example.test", false)
	if err := srv.SetRecordSet(id, fakeroute53.RecordSet{Name: "alias.example.test", Type: "CNAME", TTL: 60, Values: []string{"target.example.net."}}); err != nil {
		t.Fatal(err)
	}
	c := client(srv, testKeyID)
	many := make([]string, 1001)
	for i := range many {
		many[i] = `"` + strings.Repeat("v", 4) + string(rune('a'+i%26)) + strings.Repeat("w", i/26) + `"`
	}

	for _, tc := range []struct {
		name string
		set  *types.ResourceRecordSet
		want string
	}{
		{"unquoted", txtSet("t.example.test.", 60, "unquoted value"), "InvalidCharacterString"},
		{"long string", txtSet("t.example.test.", 60, `"`+strings.Repeat("x", 256)+`"`), "TXTRDATATooLong"},
		{"duplicate", txtSet("t.example.test.", 60, `"d"`, `"d"`), "Duplicate Resource Record"},
		{"outside the zone", txtSet("t.example.org.", 60, `"o"`), "not permitted in zone"},
		{"CNAME conflict", txtSet("alias.example.test.", 60, `"c"`), "conflicting RRSet of type CNAME"},
		{"record limit", txtSet("t.example.test.", 60, many...), "limit of 1000"},
	} {
		err := change(t, c, id, types.Change{Action: types.ChangeActionCreate, ResourceRecordSet: tc.set})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	if got := srv.TXT(id, "t.example.test"); got != nil {
		t.Errorf("rejected changes stored %q", got)
	}
	if err := change(t, c, id, types.Change{Action: types.ChangeActionCreate, ResourceRecordSet: txtSet("t.example.test.", 60, `"`+strings.Repeat("x", 255)+`" "y"`)}); err != nil {
		t.Errorf("two strings of at most 255 bytes: %v", err)
	}
}

func TestGetChange(t *testing.T) {
	srv := start(t)
	id := addZone(t, srv, "example.test", false)
	srv.SetChangeDelay(100 * time.Millisecond)
	c := client(srv, testKeyID)

	out, err := c.ChangeResourceRecordSets(t.Context(), &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(id),
		ChangeBatch:  &types.ChangeBatch{Changes: []types.Change{{Action: types.ChangeActionCreate, ResourceRecordSet: txtSet("x.example.test.", 60, `"x"`)}}},
	})
	if err != nil {
		t.Fatalf("ChangeResourceRecordSets: %v", err)
	}
	if out.ChangeInfo.Status != types.ChangeStatusPending || out.ChangeInfo.SubmittedAt == nil {
		t.Errorf("ChangeInfo = %+v, want PENDING with a submission time", out.ChangeInfo)
	}
	get := func() types.ChangeStatus {
		got, err := c.GetChange(t.Context(), &route53.GetChangeInput{Id: out.ChangeInfo.Id})
		if err != nil {
			t.Fatalf("GetChange: %v", err)
		}
		return got.ChangeInfo.Status
	}
	if status := get(); status != types.ChangeStatusPending {
		t.Errorf("status right after the change = %s, want PENDING", status)
	}
	time.Sleep(120 * time.Millisecond)
	if status := get(); status != types.ChangeStatusInsync {
		t.Errorf("status after the delay = %s, want INSYNC", status)
	}
	_, err = c.GetChange(t.Context(), &route53.GetChangeInput{Id: aws.String("/change/CMISSING")})
	if code := errorCode(err); code != "NoSuchChange" {
		t.Errorf("missing change: error code %q, want NoSuchChange", code)
	}
}

func TestFaults(t *testing.T) {
	srv := start(t)
	id := addZone(t, srv, "example.test", false)
	c := client(srv, testKeyID)
	list := func() error {
		_, err := c.ListHostedZonesByName(t.Context(), &route53.ListHostedZonesByNameInput{})
		return err
	}
	create := func(name string) error {
		return change(t, c, id, types.Change{Action: types.ChangeActionCreate, ResourceRecordSet: txtSet(name, 60, `"x"`)})
	}

	srv.ThrottleNext(1)
	if err := list(); errorCode(err) != "Throttling" || httpStatus(err) != http.StatusBadRequest {
		t.Errorf("ThrottleNext: error %v, want Throttling with status 400", err)
	}
	if err := list(); err != nil {
		t.Errorf("after the throttled request: %v", err)
	}

	srv.FailNext(fakeroute53.OpChangeResourceRecordSets, 1, 503, "ServiceUnavailable", "try later")
	if err := list(); err != nil {
		t.Errorf("a fault for another operation hit ListHostedZonesByName: %v", err)
	}
	if err := create("a.example.test."); httpStatus(err) != 503 {
		t.Errorf("FailNext 503: error %v, want status 503", err)
	}

	srv.SetRateLimit(2)
	var throttled int
	for range 4 {
		if errorCode(list()) == "Throttling" {
			throttled++
		}
	}
	if throttled != 2 {
		t.Errorf("rate limit 2: %d of 4 requests throttled, want 2", throttled)
	}
	srv.SetRateLimit(0)

	srv.SetChangeDelay(time.Hour)
	srv.RejectChangesWhilePending(true)
	if err := create("b.example.test."); err != nil {
		t.Fatalf("first change: %v", err)
	}
	var prior *types.PriorRequestNotComplete
	if err := create("c.example.test."); !errors.As(err, &prior) {
		t.Errorf("change while pending: error %v, want PriorRequestNotComplete", err)
	}
	srv.RejectChangesWhilePending(false)

	srv.AllowChanges("ZOTHER")
	err := create("d.example.test.")
	if code := errorCode(err); code != "AccessDenied" || httpStatus(err) != http.StatusForbidden {
		t.Errorf("change outside the allow list: error %v, want AccessDenied with status 403", err)
	}
	if err != nil && !strings.Contains(err.Error(), "route53:ChangeResourceRecordSets") {
		t.Errorf("AccessDenied message %q does not name the action", err)
	}
	srv.AllowChanges(id)
	if err := create("e.example.test."); err != nil {
		t.Errorf("change inside the allow list: %v", err)
	}
	srv.AllowAllChanges()

	calls := 0
	srv.SetBeforeChange(func(zoneID string) {
		calls++
		if zoneID != id {
			t.Errorf("hook got zone %q, want %q", zoneID, id)
		}
	})
	if err := create("f.example.test."); err != nil {
		t.Errorf("change with a hook: %v", err)
	}
	if calls != 1 {
		t.Errorf("hook ran %d times, want 1", calls)
	}
}

func TestCounts(t *testing.T) {
	srv := start(t)
	id := addZone(t, srv, "example.test", false)
	c := client(srv, testKeyID)
	for range 3 {
		if _, err := c.ListResourceRecordSets(t.Context(), &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(id)}); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.Count(fakeroute53.OpListResourceRecordSets); n != 3 {
		t.Errorf("ListResourceRecordSets count = %d, want 3", n)
	}
	reqs := srv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("requests = %+v, want three", reqs)
	}
	if reqs[0].ZoneID != id {
		t.Errorf("ZoneID = %q, want %q", reqs[0].ZoneID, id)
	}
	if reqs[0].AccessKeyID != testKeyID {
		t.Errorf("AccessKeyID = %q, want %q", reqs[0].AccessKeyID, testKeyID)
	}
	if reqs[0].Region != "us-east-1" {
		t.Errorf("Region = %q, want us-east-1", reqs[0].Region)
	}
	if reqs[0].Status != http.StatusOK {
		t.Errorf("Status = %d, want 200", reqs[0].Status)
	}
	srv.ResetCounts()
	if n := len(srv.Counts()); n != 0 {
		t.Errorf("%d counters after ResetCounts, want 0", n)
	}
}
