package fakeroute53

import (
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"
)

// The XML documents below follow the Route 53 API reference for version
// 2013-04-01 and the element names that the SDK's deserializers read.

type xmlHostedZone struct {
	ID                     string        `xml:"Id"`
	Name                   string        `xml:"Name"`
	CallerReference        string        `xml:"CallerReference"`
	Config                 xmlZoneConfig `xml:"Config"`
	ResourceRecordSetCount int           `xml:"ResourceRecordSetCount"`
}

type xmlZoneConfig struct {
	PrivateZone bool `xml:"PrivateZone"`
}

type xmlRecordSet struct {
	Name            string             `xml:"Name"`
	Type            string             `xml:"Type"`
	SetIdentifier   string             `xml:"SetIdentifier,omitempty"`
	Weight          *int64             `xml:"Weight,omitempty"`
	TTL             *int64             `xml:"TTL,omitempty"`
	ResourceRecords []xmlResourceValue `xml:"ResourceRecords>ResourceRecord"`
	AliasTarget     *struct {
		DNSName string `xml:"DNSName"`
	} `xml:"AliasTarget,omitempty"`
}

type xmlResourceValue struct {
	Value string `xml:"Value"`
}

type listHostedZonesByNameResponse struct {
	XMLName          xml.Name        `xml:"ListHostedZonesByNameResponse"`
	Xmlns            string          `xml:"xmlns,attr"`
	HostedZones      []xmlHostedZone `xml:"HostedZones>HostedZone"`
	DNSName          string          `xml:"DNSName,omitempty"`
	HostedZoneID     string          `xml:"HostedZoneId,omitempty"`
	IsTruncated      bool            `xml:"IsTruncated"`
	NextDNSName      string          `xml:"NextDNSName,omitempty"`
	NextHostedZoneID string          `xml:"NextHostedZoneId,omitempty"`
	MaxItems         int             `xml:"MaxItems"`
}

type listHostedZonesResponse struct {
	XMLName     xml.Name        `xml:"ListHostedZonesResponse"`
	Xmlns       string          `xml:"xmlns,attr"`
	HostedZones []xmlHostedZone `xml:"HostedZones>HostedZone"`
	Marker      string          `xml:"Marker,omitempty"`
	IsTruncated bool            `xml:"IsTruncated"`
	NextMarker  string          `xml:"NextMarker,omitempty"`
	MaxItems    int             `xml:"MaxItems"`
}

type getHostedZoneResponse struct {
	XMLName       xml.Name      `xml:"GetHostedZoneResponse"`
	Xmlns         string        `xml:"xmlns,attr"`
	HostedZone    xmlHostedZone `xml:"HostedZone"`
	DelegationSet *struct {
		NameServers []string `xml:"NameServers>NameServer"`
	} `xml:"DelegationSet,omitempty"`
	VPCs []xmlVPC `xml:"VPCs>VPC,omitempty"`
}

type xmlVPC struct {
	VPCRegion string `xml:"VPCRegion"`
	VPCID     string `xml:"VPCId"`
}

type listResourceRecordSetsResponse struct {
	XMLName              xml.Name       `xml:"ListResourceRecordSetsResponse"`
	Xmlns                string         `xml:"xmlns,attr"`
	ResourceRecordSets   []xmlRecordSet `xml:"ResourceRecordSets>ResourceRecordSet"`
	IsTruncated          bool           `xml:"IsTruncated"`
	NextRecordName       string         `xml:"NextRecordName,omitempty"`
	NextRecordType       string         `xml:"NextRecordType,omitempty"`
	NextRecordIdentifier string         `xml:"NextRecordIdentifier,omitempty"`
	MaxItems             int            `xml:"MaxItems"`
}

func (z *zone) xml() xmlHostedZone {
	return xmlHostedZone{
		ID:                     "/hostedzone/" + z.ID,
		Name:                   z.Name,
		CallerReference:        "fakeroute53-" + z.ID,
		Config:                 xmlZoneConfig{PrivateZone: z.Private},
		ResourceRecordSetCount: len(z.sets),
	}
}

func (rs RecordSet) xml() xmlRecordSet {
	ttl := rs.TTL
	out := xmlRecordSet{
		Name:          rs.Name,
		Type:          rs.Type,
		SetIdentifier: rs.SetIdentifier,
		Weight:        rs.Weight,
		TTL:           &ttl,
	}
	for _, v := range rs.Values {
		out.ResourceRecords = append(out.ResourceRecords, xmlResourceValue{Value: v})
	}
	return out
}

// parseMaxItems reads the maxitems parameter. Route 53 returns at most
// limit items, whatever the request sets.
func parseMaxItems(value string, limit int) (int, *apiError) {
	if value == "" {
		return limit, nil
	}
	n, err := strconv.Atoi(value)
	if err != nil || n < 1 {
		return 0, newError(http.StatusBadRequest, "InvalidInput", "maxitems must be a positive integer, got %q", value)
	}
	return min(n, limit), nil
}

func invalidDomainName(name string) *apiError {
	return newError(http.StatusBadRequest, "InvalidDomainName", "Domain name %q is invalid", name)
}

func noSuchHostedZone(id string) *apiError {
	return newError(http.StatusNotFound, "NoSuchHostedZone", "No hosted zone found with ID: %s", id)
}

func (s *Server) listHostedZonesByName(r *http.Request, _ *Request) (any, *apiError) {
	q := r.URL.Query()
	dnsName, zoneID := q.Get("dnsname"), trimZoneID(q.Get("hostedzoneid"))
	maxItems, apiErr := parseMaxItems(q.Get("maxitems"), 100)
	if apiErr != nil {
		return nil, apiErr
	}
	if zoneID != "" && dnsName == "" {
		return nil, newError(http.StatusBadRequest, "InvalidInput", "hostedzoneid requires dnsname")
	}
	var start string
	if dnsName != "" {
		var err error
		if start, err = canonicalName(dnsName); err != nil {
			return nil, invalidDomainName(dnsName)
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	zones := s.sortedZones()
	i := 0
	if start != "" {
		for i < len(zones) && sortKey(zones[i].Name) < sortKey(start) {
			i++
		}
		if zoneID != "" {
			for j := i; j < len(zones) && zones[j].Name == start; j++ {
				if zones[j].ID == zoneID {
					i = j
					break
				}
			}
		}
	}
	resp := listHostedZonesByNameResponse{
		Xmlns:        route53Namespace,
		DNSName:      dnsName,
		HostedZoneID: zoneID,
		MaxItems:     maxItems,
	}
	end := min(i+maxItems, len(zones))
	for _, z := range zones[i:end] {
		resp.HostedZones = append(resp.HostedZones, z.xml())
	}
	if end < len(zones) {
		resp.IsTruncated = true
		resp.NextDNSName = zones[end].Name
		resp.NextHostedZoneID = zones[end].ID
	}
	return resp, nil
}

func (s *Server) listHostedZones(r *http.Request, _ *Request) (any, *apiError) {
	q := r.URL.Query()
	marker := q.Get("marker")
	maxItems, apiErr := parseMaxItems(q.Get("maxitems"), 100)
	if apiErr != nil {
		return nil, apiErr
	}
	onlyPrivate := false
	switch t := q.Get("hostedzonetype"); t {
	case "":
	case "PrivateHostedZone":
		onlyPrivate = true
	default:
		return nil, newError(http.StatusBadRequest, "InvalidInput", "hostedzonetype must be PrivateHostedZone, got %q", t)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var zones []*zone
	for _, z := range s.sortedZones() {
		if !onlyPrivate || z.Private {
			zones = append(zones, z)
		}
	}
	i := 0
	if marker != "" {
		for i < len(zones) && zones[i].ID != marker {
			i++
		}
		if i == len(zones) {
			return nil, newError(http.StatusBadRequest, "InvalidInput", "marker %q is not a hosted zone ID", marker)
		}
	}
	resp := listHostedZonesResponse{Xmlns: route53Namespace, Marker: marker, MaxItems: maxItems}
	end := min(i+maxItems, len(zones))
	for _, z := range zones[i:end] {
		resp.HostedZones = append(resp.HostedZones, z.xml())
	}
	if end < len(zones) {
		resp.IsTruncated = true
		resp.NextMarker = zones[end].ID
	}
	return resp, nil
}

func (s *Server) getHostedZone(r *http.Request, call *Request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	z, ok := s.zones[call.ZoneID]
	if !ok {
		return nil, noSuchHostedZone(call.ZoneID)
	}
	resp := getHostedZoneResponse{Xmlns: route53Namespace, HostedZone: z.xml()}
	if z.Private {
		resp.VPCs = []xmlVPC{{VPCRegion: "us-east-1", VPCID: "vpc-fake" + strings.ToLower(z.ID)}}
	} else {
		resp.DelegationSet = &struct {
			NameServers []string `xml:"NameServers>NameServer"`
		}{NameServers: nameServers()}
	}
	return resp, nil
}

func (s *Server) listResourceRecordSets(r *http.Request, call *Request) (any, *apiError) {
	q := r.URL.Query()
	name, typ, identifier := q.Get("name"), q.Get("type"), q.Get("identifier")
	maxItems, apiErr := parseMaxItems(q.Get("maxitems"), 300)
	if apiErr != nil {
		return nil, apiErr
	}
	if typ != "" && name == "" {
		return nil, newError(http.StatusBadRequest, "InvalidInput", "The input is not valid: type requires name")
	}
	if identifier != "" && typ == "" {
		return nil, newError(http.StatusBadRequest, "InvalidInput", "The input is not valid: identifier requires type")
	}
	var start setKey
	if name != "" {
		canonical, err := canonicalName(name)
		if err != nil {
			return nil, invalidDomainName(name)
		}
		start = setKey{canonical, typ, identifier}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	z, ok := s.zones[call.ZoneID]
	if !ok {
		return nil, noSuchHostedZone(call.ZoneID)
	}
	sets := sortedSets(z)
	i := 0
	if name != "" {
		for i < len(sets) && compareSetKeys(keyOf(sets[i]), start) < 0 {
			i++
		}
	}
	resp := listResourceRecordSetsResponse{Xmlns: route53Namespace, MaxItems: maxItems}
	end := min(i+maxItems, len(sets))
	for _, rs := range sets[i:end] {
		resp.ResourceRecordSets = append(resp.ResourceRecordSets, rs.xml())
	}
	if end < len(sets) {
		next := sets[end]
		resp.IsTruncated = true
		resp.NextRecordName = next.Name
		resp.NextRecordType = next.Type
		resp.NextRecordIdentifier = next.SetIdentifier
	}
	return resp, nil
}
