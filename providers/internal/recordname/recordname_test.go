package recordname

import "testing"

func TestResolve(t *testing.T) {
	tests := []struct {
		name, zone, fqdn, relative string
		wantErr                    bool
	}{
		{name: "_acme-challenge", zone: "example.test.", fqdn: "_acme-challenge.example.test.", relative: "_acme-challenge"},
		{name: "@", zone: "Example.TEST", fqdn: "example.test.", relative: "@"},
		{name: "_ACME-Challenge.WWW", zone: "example.test.", fqdn: "_acme-challenge.www.example.test.", relative: "_acme-challenge.www"},
		{name: "_acme-challenge.www.example.test.", zone: "example.test.", fqdn: "_acme-challenge.www.example.test.", relative: "_acme-challenge.www"},
		// Ends with the zone at a label boundary: never appended twice.
		{name: "_acme-challenge.example.test", zone: "example.test.", fqdn: "_acme-challenge.example.test.", relative: "_acme-challenge"},
		{name: "_acme-challenge.other.test.", zone: "example.test.", wantErr: true},
		{name: "", zone: "example.test.", wantErr: true},
		{name: "a b", zone: "example.test.", wantErr: true},
		{name: "x", zone: "", wantErr: true},
	}
	for _, tt := range tests {
		fqdn, relative, err := Resolve(tt.name, tt.zone)
		if tt.wantErr {
			if err == nil {
				t.Errorf("Resolve(%q, %q) = %q, want an error", tt.name, tt.zone, fqdn)
			}
			continue
		}
		if err != nil || fqdn != tt.fqdn || relative != tt.relative {
			t.Errorf("Resolve(%q, %q) = %q, %q, %v; want %q, %q", tt.name, tt.zone, fqdn, relative, err, tt.fqdn, tt.relative)
		}
	}
}
