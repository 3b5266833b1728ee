package fakeroute53

import (
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Limits of one ChangeResourceRecordSets request, from the quotas page of
// the Route 53 Developer Guide (DNSLimitations.html). UPSERT counts twice.
const (
	maxResourceRecordsPerRequest = 1000
	maxValueCharsPerRequest      = 32000
)

type change struct {
	id        string
	submitted time.Time
	insyncAt  time.Time
	comment   string
}

func (c *change) status(now time.Time) string {
	if now.Before(c.insyncAt) {
		return "PENDING"
	}
	return "INSYNC"
}

type xmlChangeInfo struct {
	ID          string `xml:"Id"`
	Status      string `xml:"Status"`
	SubmittedAt string `xml:"SubmittedAt"`
	Comment     string `xml:"Comment,omitempty"`
}

func (c *change) xml(now time.Time) xmlChangeInfo {
	return xmlChangeInfo{
		ID:          "/change/" + c.id,
		Status:      c.status(now),
		SubmittedAt: c.submitted.UTC().Format("2006-01-02T15:04:05.000Z"),
		Comment:     c.comment,
	}
}

type changeRequest struct {
	XMLName     xml.Name `xml:"ChangeResourceRecordSetsRequest"`
	ChangeBatch struct {
		Comment string `xml:"Comment"`
		Changes []struct {
			Action            string       `xml:"Action"`
			ResourceRecordSet xmlRecordSet `xml:"ResourceRecordSet"`
		} `xml:"Changes>Change"`
	} `xml:"ChangeBatch"`
}

type changeResponse struct {
	XMLName    xml.Name      `xml:"ChangeResourceRecordSetsResponse"`
	Xmlns      string        `xml:"xmlns,attr"`
	ChangeInfo xmlChangeInfo `xml:"ChangeInfo"`
}

type getChangeResponse struct {
	XMLName    xml.Name      `xml:"GetChangeResponse"`
	Xmlns      string        `xml:"xmlns,attr"`
	ChangeInfo xmlChangeInfo `xml:"ChangeInfo"`
}

// pendingChange is one parsed element of a change batch.
type pendingChange struct {
	action string
	set    RecordSet
}

func (s *Server) changeResourceRecordSets(r *http.Request, call *Request) (any, *apiError) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
	if err != nil {
		return nil, newError(http.StatusBadRequest, "InvalidInput", "reading the request body: %v", err)
	}
	var req changeRequest
	if err := xml.Unmarshal(body, &req); err != nil {
		return nil, newError(http.StatusBadRequest, "InvalidInput", "the request body is not a ChangeResourceRecordSetsRequest document: %v", err)
	}
	changes, apiErr := parseChanges(req)
	if apiErr != nil {
		return nil, apiErr
	}

	s.mu.Lock()
	_, exists := s.zones[call.ZoneID]
	denied := s.allowChanges != nil && !s.allowChanges[call.ZoneID]
	hook := s.beforeChange
	s.mu.Unlock()
	if !exists {
		return nil, noSuchHostedZone(call.ZoneID)
	}
	if denied {
		return nil, newError(http.StatusForbidden, "AccessDenied",
			"User: arn:aws:iam::%s:user/fakeroute53 is not authorized to perform: route53:ChangeResourceRecordSets on resource: arn:aws:route53:::hostedzone/%s because no identity-based policy allows the route53:ChangeResourceRecordSets action",
			AccountID, call.ZoneID)
	}
	if hook != nil {
		hook(call.ZoneID)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	z, ok := s.zones[call.ZoneID]
	if !ok {
		return nil, noSuchHostedZone(call.ZoneID)
	}
	now := time.Now()
	if s.rejectWhile && z.lastChange != nil && z.lastChange.status(now) == "PENDING" {
		return nil, newError(http.StatusBadRequest, "PriorRequestNotComplete",
			"The request was rejected because Route 53 was still processing a prior request.")
	}
	sets, messages := applyChanges(z, changes)
	if len(messages) > 0 {
		e := newError(http.StatusBadRequest, "InvalidChangeBatch", "[%s]", strings.Join(messages, ", "))
		e.messages = messages
		return nil, e
	}
	z.sets = sets

	s.changeSeq++
	c := &change{
		id:        fmt.Sprintf("CFAKE%09d", s.changeSeq),
		submitted: now,
		insyncAt:  now.Add(s.changeDelay),
		comment:   req.ChangeBatch.Comment,
	}
	s.changes[c.id] = c
	z.lastChange = c
	info := c.xml(now)
	// ChangeResourceRecordSets always returns PENDING, as Route 53 does.
	info.Status = "PENDING"
	return changeResponse{Xmlns: route53Namespace, ChangeInfo: info}, nil
}

// parseChanges converts the request into record sets with canonical names
// and checks the request limits.
func parseChanges(req changeRequest) ([]pendingChange, *apiError) {
	if len(req.ChangeBatch.Changes) == 0 {
		return nil, newError(http.StatusBadRequest, "InvalidInput", "The change batch has no changes")
	}
	var out []pendingChange
	records, chars := 0, 0
	for _, c := range req.ChangeBatch.Changes {
		x := c.ResourceRecordSet
		switch c.Action {
		case "CREATE", "DELETE", "UPSERT":
		default:
			return nil, newError(http.StatusBadRequest, "InvalidInput", "Invalid action %q; use CREATE, DELETE or UPSERT", c.Action)
		}
		if x.AliasTarget != nil {
			return nil, newError(http.StatusBadRequest, "InvalidInput", "fakeroute53 does not support alias record sets (%s)", x.Name)
		}
		name, err := canonicalName(x.Name)
		if err != nil {
			return nil, invalidDomainName(x.Name)
		}
		if x.TTL == nil || len(x.ResourceRecords) == 0 {
			return nil, newError(http.StatusBadRequest, "InvalidInput",
				"Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords]], but found none in Change with [Action=%s, Name=%s, Type=%s, SetIdentifier=%s]",
				c.Action, x.Name, x.Type, setIdentifierText(x.SetIdentifier))
		}
		rs := RecordSet{Name: name, Type: x.Type, SetIdentifier: x.SetIdentifier, Weight: x.Weight, TTL: *x.TTL}
		weight := 1
		if c.Action == "UPSERT" {
			weight = 2
		}
		for _, v := range x.ResourceRecords {
			rs.Values = append(rs.Values, v.Value)
			records += weight
			chars += weight * len(v.Value)
		}
		out = append(out, pendingChange{action: c.Action, set: rs})
	}
	if records > maxResourceRecordsPerRequest {
		return nil, newError(http.StatusBadRequest, "InvalidChangeBatch",
			"[Number of records limit of %d exceeded: the request has %d]", maxResourceRecordsPerRequest, records)
	}
	if chars > maxValueCharsPerRequest {
		return nil, newError(http.StatusBadRequest, "InvalidChangeBatch",
			"[RDATA character limit of %d exceeded: the request has %d]", maxValueCharsPerRequest, chars)
	}
	return out, nil
}

func setIdentifierText(id string) string {
	if id == "" {
		return "null"
	}
	return id
}

// applyChanges applies the batch to a copy of the zone's record sets, in
// order, and returns the new sets or every validation message. The caller
// keeps the zone unchanged when there are messages, so a batch is atomic.
func applyChanges(z *zone, changes []pendingChange) (map[setKey]RecordSet, []string) {
	sets := maps.Clone(z.sets)
	work := &zone{Zone: z.Zone, sets: sets}
	var messages []string
	for _, c := range changes {
		key := keyOf(c.set)
		current, exists := sets[key]
		describe := fmt.Sprintf("[name='%s', type='%s'", c.set.Name, c.set.Type)
		if c.set.SetIdentifier != "" {
			describe += fmt.Sprintf(", set-identifier='%s'", c.set.SetIdentifier)
		}
		describe += "]"
		switch c.action {
		case "DELETE":
			switch {
			case !exists:
				messages = append(messages, "Tried to delete resource record set "+describe+" but it was not found")
			case !sameRecordSet(current, c.set):
				messages = append(messages, "Tried to delete resource record set "+describe+" but the values provided do not match the current values")
			default:
				delete(sets, key)
			}
		case "CREATE", "UPSERT":
			if c.action == "CREATE" && exists {
				messages = append(messages, "Tried to create resource record set "+describe+" but it already exists")
				continue
			}
			if msg := validateRecordSet(work, c.set); msg != "" {
				messages = append(messages, msg)
				continue
			}
			sets[key] = c.set
		}
	}
	return sets, messages
}

// sameRecordSet reports whether a DELETE matches the current set: same
// TTL, weight and values in any order.
func sameRecordSet(current, requested RecordSet) bool {
	if current.TTL != requested.TTL {
		return false
	}
	if (current.Weight == nil) != (requested.Weight == nil) || current.Weight != nil && *current.Weight != *requested.Weight {
		return false
	}
	a, b := slices.Clone(current.Values), slices.Clone(requested.Values)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// validateRecordSet returns the message Route 53 would give for a set that
// may not be stored in z, or "".
func validateRecordSet(z *zone, rs RecordSet) string {
	if !inZone(rs.Name, z.Name) {
		return fmt.Sprintf("RRSet with DNS name %s is not permitted in zone %s", rs.Name, z.Name)
	}
	if rs.Type == "" {
		return fmt.Sprintf("Invalid Resource Record: the record set %s has no type", rs.Name)
	}
	if len(rs.Values) == 0 {
		return fmt.Sprintf("Invalid Resource Record: the record set %s %s has no values", rs.Name, rs.Type)
	}
	seen := make(map[string]bool)
	for _, v := range rs.Values {
		if seen[v] {
			return fmt.Sprintf("Duplicate Resource Record: '%s'", v)
		}
		seen[v] = true
		if rs.Type != "TXT" && rs.Type != "SPF" {
			continue
		}
		strs, err := parseCharacterStrings(v)
		if err != nil {
			return fmt.Sprintf("Invalid Resource Record: FATAL problem: InvalidCharacterString (%v) encountered with '%s'", err, v)
		}
		for _, str := range strs {
			if len(str) > 255 {
				return fmt.Sprintf("Invalid Resource Record: FATAL problem: TXTRDATATooLong (Value contains a string longer than 255 characters) encountered with '%s'", v)
			}
		}
	}
	for key := range z.sets {
		if key.name != rs.Name || key.typ == rs.Type {
			continue
		}
		if key.typ == "CNAME" || rs.Type == "CNAME" {
			return fmt.Sprintf("RRSet of type %s with DNS name %s is not permitted because a conflicting RRSet of type %s with the same DNS name already exists in zone %s",
				rs.Type, rs.Name, key.typ, z.Name)
		}
	}
	return ""
}

func (s *Server) getChange(r *http.Request, _ *Request) (any, *apiError) {
	id := strings.TrimPrefix(r.PathValue("id"), "/change/")
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.changes[id]
	if !ok {
		return nil, newError(http.StatusNotFound, "NoSuchChange", "A change with the specified change ID does not exist: %s", id)
	}
	return getChangeResponse{Xmlns: route53Namespace, ChangeInfo: c.xml(time.Now())}, nil
}

// ChangeIDs returns the IDs of every accepted change, oldest first.
func (s *Server) ChangeIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := slices.Collect(maps.Keys(s.changes))
	slices.Sort(ids)
	return ids
}
