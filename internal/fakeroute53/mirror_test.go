package fakeroute53_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/dnscert/dnscert/internal/fakeroute53"
)

// Change requests call the hook once the fake has applied them, rejected
// ones too, but reads do not. Requests still count at the fake.
func TestMirrorCallsHookAfterChanges(t *testing.T) {
	srv := start(t)
	zoneID := addZone(t, srv, "example.test", false)
	var mu sync.Mutex
	var calls []string
	var seen [][]string
	mirror, err := srv.StartMirror(func(id string) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, id)
		seen = append(seen, srv.TXTRecords(id)["_acme-challenge.example.test."])
	})
	if err != nil {
		t.Fatalf("StartMirror: %v", err)
	}
	t.Cleanup(func() { mirror.Close() })
	c := route53.New(route53.Options{
		BaseEndpoint:     aws.String(mirror.URL()),
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(testKeyID, "test-secret", ""),
		RetryMaxAttempts: 1,
	})

	if _, err := c.ListResourceRecordSets(t.Context(), &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(zoneID)}); err != nil {
		t.Fatalf("ListResourceRecordSets through the mirror: %v", err)
	}
	if err := change(t, c, zoneID, types.Change{Action: types.ChangeActionCreate, ResourceRecordSet: txtSet("_acme-challenge.example.test", 60, `"a"`, `"b" "c"`)}); err != nil {
		t.Fatalf("CREATE through the mirror: %v", err)
	}
	if err := change(t, c, zoneID, types.Change{Action: types.ChangeActionCreate, ResourceRecordSet: txtSet("_acme-challenge.example.test", 60, `"d"`)}); err == nil {
		t.Error("a second CREATE of the same set succeeded, want InvalidChangeBatch")
	}

	want := []string{zoneID, zoneID}
	if !slices.Equal(calls, want) {
		t.Errorf("hook calls = %v, want %v (the accepted and the rejected change)", calls, want)
	}
	wantSeen := [][]string{{"a", "bc"}, {"a", "bc"}}
	if !slices.EqualFunc(seen, wantSeen, slices.Equal) {
		t.Errorf("TXT values in the hook = %v, want %v", seen, wantSeen)
	}
	if got := srv.Count(fakeroute53.OpChangeResourceRecordSets); got != 2 {
		t.Errorf("the fake counted %d change requests, want 2", got)
	}
	if got := srv.TXTRecords("ZMISSING"); got != nil {
		t.Errorf("TXTRecords of a missing zone = %v, want nil", got)
	}
}
