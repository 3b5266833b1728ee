package fakeroute53

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net/http"
	"time"
)

type assumeRoleWithWebIdentityResponse struct {
	XMLName xml.Name `xml:"AssumeRoleWithWebIdentityResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		Credentials struct {
			AccessKeyID     string `xml:"AccessKeyId"`
			SecretAccessKey string `xml:"SecretAccessKey"`
			SessionToken    string `xml:"SessionToken"`
			Expiration      string `xml:"Expiration"`
		} `xml:"Credentials"`
		AssumedRoleUser struct {
			Arn           string `xml:"Arn"`
			AssumedRoleID string `xml:"AssumedRoleId"`
		} `xml:"AssumedRoleUser"`
		SubjectFromWebIdentityToken string `xml:"SubjectFromWebIdentityToken"`
	} `xml:"AssumeRoleWithWebIdentityResult"`
	ResponseMetadata struct {
		RequestID string `xml:"RequestId"`
	} `xml:"ResponseMetadata"`
}

// serveSTS handles the STS query protocol: a form-encoded POST to "/".
// Only AssumeRoleWithWebIdentity is implemented. The SDK sends it
// unsigned, so it needs no registered access key.
func (s *Server) serveSTS(w http.ResponseWriter, r *http.Request) {
	requestID := newRequestID()
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		writeError(w, requestID, stsNamespace, newError(http.StatusBadRequest, "InvalidParameterValue", "the request body is not a form: %v", err))
		return
	}
	action := r.PostForm.Get("Action")
	if action != OpAssumeRoleWithWebIdentity {
		writeError(w, requestID, stsNamespace, newError(http.StatusBadRequest, "InvalidAction", "fakeroute53 does not implement the STS action %q", action))
		return
	}
	roleARN, token := r.PostForm.Get("RoleArn"), r.PostForm.Get("WebIdentityToken")

	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[OpAssumeRoleWithWebIdentity]++
	call := Request{Operation: OpAssumeRoleWithWebIdentity, Status: http.StatusOK}
	defer func() { s.requests = append(s.requests, call) }()
	if !s.identities[identityKey{roleARN, token}] {
		call.Status = http.StatusBadRequest
		writeError(w, requestID, stsNamespace, newError(http.StatusBadRequest, "InvalidIdentityToken",
			"The web identity token is not valid for role %s", roleARN))
		return
	}

	s.identitySeq++
	var resp assumeRoleWithWebIdentityResponse
	resp.Xmlns = stsNamespace
	creds := &resp.Result.Credentials
	creds.AccessKeyID = fmt.Sprintf("ASIAFAKE%012d", s.identitySeq)
	creds.SecretAccessKey = randomToken(20)
	creds.SessionToken = randomToken(64)
	creds.Expiration = time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	resp.Result.AssumedRoleUser.Arn = roleARN + "/fakeroute53"
	resp.Result.AssumedRoleUser.AssumedRoleID = fmt.Sprintf("AROAFAKE%012d:fakeroute53", s.identitySeq)
	resp.Result.SubjectFromWebIdentityToken = "fakeroute53"
	resp.ResponseMetadata.RequestID = requestID
	s.credentials[creds.AccessKeyID] = creds.SessionToken
	writeXML(w, http.StatusOK, requestID, resp)
}

func randomToken(bytes int) string {
	b := make([]byte, bytes)
	rand.Read(b) //nolint:errcheck // Since Go 1.24 crypto/rand.Read never returns an error.
	return hex.EncodeToString(b)
}
