package route53

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
)

func TestEncodeTXT(t *testing.T) {
	for _, tc := range []struct {
		text, want string
	}{
		{"", `""`},
		{"token-_abc123", `"token-_abc123"`},
		{"with space", `"with space"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"tab\there", `"tab\011here"`},
		{"é", `"\303\251"`},
		{strings.Repeat("a", 255), `"` + strings.Repeat("a", 255) + `"`},
		{strings.Repeat("a", 256), `"` + strings.Repeat("a", 255) + `" "a"`},
		{strings.Repeat("a", 510), `"` + strings.Repeat("a", 255) + `" "` + strings.Repeat("a", 255) + `"`},
	} {
		if got := encodeTXT(tc.text); got != tc.want {
			t.Errorf("encodeTXT(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

func TestDecodeTXT(t *testing.T) {
	for _, tc := range []struct {
		value, want string
	}{
		{`"abc"`, "abc"},
		{`""`, ""},
		{`abc`, "abc"},
		{`"a" "b"`, "ab"},
		{`"a"  "b" c`, "abc"},
		{`"a\"b\\c"`, `a"b\c`},
		{`"\303\251"`, "é"},
		{`"with space"`, "with space"},
	} {
		got, ok := decodeTXT(tc.value)
		if !ok {
			t.Errorf("decodeTXT(%q) failed", tc.value)
			continue
		}
		if got != tc.want {
			t.Errorf("decodeTXT(%q) = %q, want %q", tc.value, got, tc.want)
		}
	}
	if _, ok := decodeTXT(`"unterminated`); ok {
		t.Error(`decodeTXT("unterminated) succeeded, want failure`)
	}
}

func TestTXTRoundTrip(t *testing.T) {
	texts := []string{"", "x", strings.Repeat("0123456789", 60), "quote\" backslash\\ ctrl\x01 del\x7f high\xff"}
	for _, text := range texts {
		got, ok := decodeTXT(encodeTXT(text))
		if !ok || got != text {
			t.Errorf("decodeTXT(encodeTXT(%q)) = %q, %t", text, got, ok)
		}
	}
}

func TestNormalizeName(t *testing.T) {
	for _, tc := range []struct {
		name, want string
	}{
		{"WWW.Example.COM", "www.example.com."},
		{"www.example.com.", "www.example.com."},
		{`\052.example.com.`, "*.example.com."},
		{`_ACME-challenge.example.com`, "_acme-challenge.example.com."},
		{`a\.b.example.com.`, "a.b.example.com."},
	} {
		if got := normalizeName(tc.name); got != tc.want {
			t.Errorf("normalizeName(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestSortOrder(t *testing.T) {
	// The order that the ListResourceRecordSets reference describes: names
	// by reversed labels with a trailing dot, so a '-' (45) after a shared
	// prefix sorts before the end of the label ('.', 46), then by type.
	want := []setKey{
		{"example.com.", "NS"},
		{"example.com.", "SOA"},
		{"_acme-challenge.example.com.", "TXT"},
		{"a-b.example.com.", "TXT"},
		{"a.example.com.", "A"},
		{"a.example.com.", "TXT"},
		{"_acme-challenge.a.example.com.", "TXT"},
		{"b.example.com.", "TXT"},
		{"example0.com.", "TXT"},
	}
	got := slices.Clone(want)
	slices.Reverse(got)
	slices.SortFunc(got, compareKeys)
	if !slices.Equal(got, want) {
		t.Errorf("sorted keys:\n got %v\nwant %v", got, want)
	}
}

func TestSplitBatches(t *testing.T) {
	plan := func(values, length int) setPlan {
		rs := &types.ResourceRecordSet{}
		for range values {
			rs.ResourceRecords = append(rs.ResourceRecords, types.ResourceRecord{Value: aws.String(strings.Repeat("v", length))})
		}
		return setPlan{changes: []types.Change{{Action: types.ChangeActionCreate, ResourceRecordSet: rs}}}
	}
	for _, tc := range []struct {
		name  string
		plans []setPlan
		sizes []int
	}{
		{"empty", nil, nil},
		{"one batch", []setPlan{plan(1, 45), plan(2, 45)}, []int{2}},
		{"record limit", slices.Repeat([]setPlan{plan(1, 10)}, 1001), []int{1000, 1}},
		{"character limit", slices.Repeat([]setPlan{plan(1, 100)}, 321), []int{320, 1}},
		{"oversized set alone", []setPlan{plan(1, 10), plan(1001, 10), plan(1, 10)}, []int{1, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sizes []int
			for _, b := range splitBatches(tc.plans) {
				sizes = append(sizes, len(b))
			}
			if !slices.Equal(sizes, tc.sizes) {
				t.Errorf("batch sizes = %v, want %v", sizes, tc.sizes)
			}
		})
	}
}

func TestJitter(t *testing.T) {
	for _, d := range []time.Duration{0, 1, 2, time.Second} {
		for range 100 {
			got := jitter(d)
			if got < d/2 || got > d {
				t.Fatalf("jitter(%s) = %s, want between %s and %s", d, got, d/2, d)
			}
		}
	}
}

func TestIAMResource(t *testing.T) {
	for _, tc := range []struct {
		region, operation, zoneID, want string
	}{
		{"us-east-1", "ChangeResourceRecordSets", "Z1", "arn:aws:route53:::hostedzone/Z1"},
		{"eu-west-1", "ListResourceRecordSets", "Z1", "arn:aws:route53:::hostedzone/Z1"},
		{"us-east-1", "GetChange", "Z1", "arn:aws:route53:::change/*"},
		{"us-east-1", "ListHostedZonesByName", "", "*"},
		{"us-east-1", "ListHostedZonesByName", "Z1", "*"},
		{"cn-north-1", "ChangeResourceRecordSets", "Z1", "arn:aws-cn:route53:::hostedzone/Z1"},
		{"us-gov-west-1", "GetChange", "", "arn:aws-us-gov:route53:::change/*"},
	} {
		got := iamResource(partitionOf(tc.region), tc.operation, tc.zoneID)
		if got != tc.want {
			t.Errorf("iamResource for %s in %s, zone %q = %q, want %q", tc.operation, tc.region, tc.zoneID, got, tc.want)
		}
	}
}

func TestZoneForName(t *testing.T) {
	zones := []hostedZone{
		{id: "ZPRIV", name: "example.com.", private: true},
		{id: "ZPUB", name: "example.com.", private: false},
		{id: "ZSUB", name: "sub.example.com.", private: false},
		{id: "ZDEEPPRIV", name: "deep.sub.example.com.", private: true},
	}
	for _, tc := range []struct {
		name, want string
	}{
		{"_acme-challenge.example.com.", "ZPUB"},
		{"_acme-challenge.sub.example.com.", "ZSUB"},
		{"_acme-challenge.deep.sub.example.com.", "ZSUB"},
		{"_acme-challenge.notsub.example.com.", "ZPUB"},
	} {
		hz, err := zoneForName(tc.name, zones, nil)
		if err != nil {
			t.Errorf("zoneForName(%s): %v", tc.name, err)
			continue
		}
		if hz.id != tc.want {
			t.Errorf("zoneForName(%s) = %s, want %s", tc.name, hz.id, tc.want)
		}
	}
	if _, err := zoneForName("www.example.org.", zones, nil); err == nil {
		t.Error("zoneForName outside every zone succeeded, want an error")
	}
}
