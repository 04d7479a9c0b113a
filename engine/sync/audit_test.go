package sync

import (
	"encoding/json"
	"maps"
	"testing"
)

// TestEntryAuditShape: an entry encoded from its struct has IDM's fields,
// nulls included, as the map it replaced had.
func TestEntryAuditShape(t *testing.T) {
	msg := "boom"
	for _, c := range []struct {
		name string
		a    entryAudit
		want map[string]any
	}{
		{"confirmed", entryAudit{EntryType: "entry", Reconciling: "source", Situation: "CONFIRMED", Action: "UPDATE", LinkQualifier: "default",
			Status: "SUCCESS", ReconAction: "recon", SourceObjectID: qualified("managed/src", "s1"), TargetObjectID: qualified("managed/tgt", "t1")},
			map[string]any{"entryType": "entry", "reconciling": "source", "situation": "CONFIRMED", "action": "UPDATE", "linkQualifier": "default",
				"status": "SUCCESS", "message": "", "exception": nil, "reconAction": "recon", "sourceObjectId": "managed/src/s1", "targetObjectId": "managed/tgt/t1"}},
		{"failed and ambiguous", entryAudit{EntryType: "entry", Reconciling: "source", Situation: "AMBIGUOUS", Action: "EXCEPTION",
			Status: "FAILURE", Message: msg, Exception: &msg, ReconAction: "recon", SourceObjectID: qualified("managed/src", "s1"),
			TargetObjectID: qualified("managed/tgt", ""), AmbiguousTargetObjectIDs: "t1, t2"},
			map[string]any{"entryType": "entry", "reconciling": "source", "situation": "AMBIGUOUS", "action": "EXCEPTION", "linkQualifier": "",
				"status": "FAILURE", "message": "boom", "exception": "boom", "reconAction": "recon", "sourceObjectId": "managed/src/s1",
				"targetObjectId": nil, "ambiguousTargetObjectIds": "t1, t2"}},
	} {
		c.a.EventName, c.a.ReconID, c.a.Mapping, c.a.Timestamp, c.a.TransactionID, c.a.UserID = "recon", "r1", "m", "2030-01-01T00:00:00Z", "r1", "admin"
		maps.Copy(c.want, map[string]any{"eventName": "recon", "reconId": "r1", "mapping": "m", "timestamp": "2030-01-01T00:00:00Z",
			"transactionId": "r1", "userId": "admin"})
		b, err := json.Marshal(c.a)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if !maps.EqualFunc(got, c.want, func(a, b any) bool { return a == b }) {
			t.Errorf("%s:\n got %v\nwant %v", c.name, got, c.want)
		}
	}
}
