package fakeroute53

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// RecordSet is a resource record set as the API shows it.
type RecordSet struct {
	// Name is the fully qualified name in Route 53's stored form: lower
	// case with a trailing dot, and every byte other than a-z, 0-9, '-',
	// '_' and '.' as a three-digit octal escape, such as "\052" for "*".
	Name string
	Type string
	// SetIdentifier and Weight make a weighted record set. Both are empty
	// for a simple record set.
	SetIdentifier string
	Weight        *int64
	TTL           int64
	// Values are the ResourceRecord values as sent, such as `"token"` for
	// TXT records.
	Values []string
}

// Zone describes a hosted zone.
type Zone struct {
	ID      string // such as "ZFAKE000000001", without "/hostedzone/"
	Name    string // lower case with a trailing dot
	Private bool
}

type zone struct {
	Zone
	seq  int
	sets map[setKey]RecordSet
	// lastChange is the zone's most recent change, for
	// PriorRequestNotComplete.
	lastChange *change
}

type setKey struct {
	name, typ, identifier string
}

func keyOf(rs RecordSet) setKey {
	return setKey{rs.Name, rs.Type, rs.SetIdentifier}
}

// AddZone creates a hosted zone with SOA and NS record sets at its apex,
// as Route 53 does, and returns its ID. Zones may share a name, as
// Route 53 allows for both private and public zones.
func (s *Server) AddZone(name string, private bool) (string, error) {
	canonical, err := canonicalName(name)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.zoneSeq++
	id := fmt.Sprintf("ZFAKE%09d", s.zoneSeq)
	z := &zone{
		Zone: Zone{ID: id, Name: canonical, Private: private},
		seq:  s.zoneSeq,
		sets: make(map[setKey]RecordSet),
	}
	soa := RecordSet{Name: canonical, Type: "SOA", TTL: 900, Values: []string{
		"ns-1.awsdns-fake.test. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400",
	}}
	ns := RecordSet{Name: canonical, Type: "NS", TTL: 172800, Values: nameServers()}
	z.sets[keyOf(soa)] = soa
	z.sets[keyOf(ns)] = ns
	s.zones[id] = z
	return id, nil
}

func nameServers() []string {
	return []string{"ns-1.awsdns-fake.test.", "ns-2.awsdns-fake.test."}
}

// Zones returns every hosted zone in the order ListHostedZonesByName uses.
func (s *Server) Zones() []Zone {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Zone
	for _, z := range s.sortedZones() {
		out = append(out, z.Zone)
	}
	return out
}

// SetRecordSet creates or replaces a record set, as UPSERT does, without
// counting a request or applying faults. The name is taken as fully
// qualified, with or without the trailing dot.
func (s *Server) SetRecordSet(zoneID string, rs RecordSet) error {
	name, err := canonicalName(rs.Name)
	if err != nil {
		return err
	}
	rs.Name = name
	rs.Values = slices.Clone(rs.Values)
	s.mu.Lock()
	defer s.mu.Unlock()
	z, ok := s.zones[trimZoneID(zoneID)]
	if !ok {
		return fmt.Errorf("fakeroute53: no hosted zone with ID %q", zoneID)
	}
	if msg := validateRecordSet(z, rs); msg != "" {
		return fmt.Errorf("fakeroute53: %s", msg)
	}
	z.sets[keyOf(rs)] = rs
	return nil
}

// DeleteRecordSet removes the simple record set of the given name and
// type. It reports whether the set existed.
func (s *Server) DeleteRecordSet(zoneID, name, typ string) (bool, error) {
	canonical, err := canonicalName(name)
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	z, ok := s.zones[trimZoneID(zoneID)]
	if !ok {
		return false, fmt.Errorf("fakeroute53: no hosted zone with ID %q", zoneID)
	}
	key := setKey{canonical, typ, ""}
	_, existed := z.sets[key]
	delete(z.sets, key)
	return existed, nil
}

// RecordSet returns the simple record set of the given name and type.
func (s *Server) RecordSet(zoneID, name, typ string) (RecordSet, bool) {
	canonical, err := canonicalName(name)
	if err != nil {
		return RecordSet{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	z, ok := s.zones[trimZoneID(zoneID)]
	if !ok {
		return RecordSet{}, false
	}
	rs, ok := z.sets[setKey{canonical, typ, ""}]
	rs.Values = slices.Clone(rs.Values)
	return rs, ok
}

// RecordSets returns every record set of the zone in the order
// ListResourceRecordSets uses.
func (s *Server) RecordSets(zoneID string) []RecordSet {
	s.mu.Lock()
	defer s.mu.Unlock()
	z, ok := s.zones[trimZoneID(zoneID)]
	if !ok {
		return nil
	}
	return sortedSets(z)
}

// TXT returns the texts of the TXT record set at name, each the
// concatenation of its character strings with escapes decoded, in the
// order stored. It returns nil when the set does not exist.
func (s *Server) TXT(zoneID, name string) []string {
	rs, ok := s.RecordSet(zoneID, name, "TXT")
	if !ok {
		return nil
	}
	texts := make([]string, 0, len(rs.Values))
	for _, v := range rs.Values {
		strs, err := parseCharacterStrings(v)
		if err != nil {
			texts = append(texts, v)
			continue
		}
		texts = append(texts, strings.Join(strs, ""))
	}
	return texts
}

// sortedZones returns the zones ordered by name with the labels reversed,
// then private zones before public ones, then by creation.
func (s *Server) sortedZones() []*zone {
	zones := make([]*zone, 0, len(s.zones))
	for _, z := range s.zones {
		zones = append(zones, z)
	}
	slices.SortFunc(zones, func(a, b *zone) int {
		if c := strings.Compare(sortKey(a.Name), sortKey(b.Name)); c != 0 {
			return c
		}
		if a.Private != b.Private {
			if a.Private {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.seq, b.seq)
	})
	return zones
}

func sortedSets(z *zone) []RecordSet {
	sets := make([]RecordSet, 0, len(z.sets))
	for _, rs := range z.sets {
		rs.Values = slices.Clone(rs.Values)
		sets = append(sets, rs)
	}
	slices.SortFunc(sets, func(a, b RecordSet) int {
		return compareSetKeys(keyOf(a), keyOf(b))
	})
	return sets
}

// compareSetKeys orders record sets as ListResourceRecordSets does: by
// name with the labels reversed, then by type, then by set identifier.
func compareSetKeys(a, b setKey) int {
	if c := strings.Compare(sortKey(a.name), sortKey(b.name)); c != 0 {
		return c
	}
	if c := strings.Compare(a.typ, b.typ); c != 0 {
		return c
	}
	return strings.Compare(a.identifier, b.identifier)
}

// sortKey returns the form in which Route 53 sorts names: the labels of
// the stored (escaped) name in reverse order, with a trailing dot, so
// "www.example.com." sorts as "com.example.www.". The API reference of
// ListResourceRecordSets and ListHostedZonesByName documents this order.
func sortKey(name string) string {
	labels := strings.Split(strings.TrimSuffix(name, "."), ".")
	slices.Reverse(labels)
	return strings.Join(labels, ".") + "."
}

// canonicalName returns name in Route 53's stored form. It accepts names
// with or without the trailing dot, in any case, and with octal escapes.
func canonicalName(name string) (string, error) {
	if name == "" || name == "." {
		return "", fmt.Errorf("fakeroute53: empty domain name")
	}
	raw, err := unescapeName(name)
	if err != nil {
		return "", err
	}
	raw = strings.TrimSuffix(raw, ".")
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case 'A' <= c && c <= 'Z':
			b.WriteByte(c + ('a' - 'A'))
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "\\%03o", c)
		}
	}
	b.WriteByte('.')
	return b.String(), nil
}

// unescapeName decodes \ooo octal escapes and \X escapes.
func unescapeName(name string) (string, error) {
	if !strings.Contains(name, `\`) {
		return name, nil
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i+3 < len(name) && isOctal(name[i+1]) && isOctal(name[i+2]) && isOctal(name[i+3]) {
			v, _ := strconv.ParseUint(name[i+1:i+4], 8, 8)
			b.WriteByte(byte(v))
			i += 3
			continue
		}
		if i+1 < len(name) {
			b.WriteByte(name[i+1])
			i++
			continue
		}
		return "", fmt.Errorf("fakeroute53: domain name %q ends with a backslash", name)
	}
	return b.String(), nil
}

func isOctal(c byte) bool { return '0' <= c && c <= '7' }

// inZone reports whether the canonical name lies in the zone.
func inZone(name, zoneName string) bool {
	return name == zoneName || strings.HasSuffix(name, "."+zoneName)
}

// parseCharacterStrings splits a TXT value in Route 53's format, one or
// more double-quoted strings separated by spaces, and decodes the escapes
// \" \\ and \ooo. It fails on unquoted text, as Route 53 does.
func parseCharacterStrings(value string) ([]string, error) {
	var out []string
	i := 0
	for {
		for i < len(value) && value[i] == ' ' {
			i++
		}
		if i == len(value) {
			break
		}
		if value[i] != '"' {
			return nil, fmt.Errorf("value should be enclosed in quotation marks")
		}
		i++
		var b strings.Builder
		closed := false
		for i < len(value) && !closed {
			c := value[i]
			switch {
			case c == '"':
				closed = true
				i++
			case c == '\\' && i+3 < len(value) && isOctal(value[i+1]) && isOctal(value[i+2]) && isOctal(value[i+3]):
				v, _ := strconv.ParseUint(value[i+1:i+4], 8, 8)
				b.WriteByte(byte(v))
				i += 4
			case c == '\\' && i+1 < len(value):
				b.WriteByte(value[i+1])
				i += 2
			default:
				b.WriteByte(c)
				i++
			}
		}
		if !closed {
			return nil, fmt.Errorf("value has an unterminated quoted string")
		}
		out = append(out, b.String())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("value is empty")
	}
	return out, nil
}
