package dict

import (
	"bytes"
	"testing"
)

func TestEncode(t *testing.T) {
	tests := []struct {
		name, attr, value string
		wantType          byte
		want              []byte
		wantErr           bool
	}{
		{"class", "Class", "admins", 25, []byte("admins"), false},
		{"case-insensitive name", "filter-id", "full", 11, []byte("full"), false},
		{"integer", "Session-Timeout", "28800", 27, []byte{0, 0, 0x70, 0x80}, false},
		{"named integer", "Service-Type", "Framed-User", 6, []byte{0, 0, 0, 2}, false},
		{"ip", "Framed-IP-Address", "10.1.2.3", 8, []byte{10, 1, 2, 3}, false},
		{"fortinet vsa", "Fortinet-Group-Name", "admins", 26,
			[]byte{0, 0, 0x30, 0x44, 1, 8, 'a', 'd', 'm', 'i', 'n', 's'}, false},
		{"palo alto vsa", "PaloAlto-User-Group", "g", 26, []byte{0, 0, 0x63, 0x75, 5, 3, 'g'}, false},
		{"bad integer", "Session-Timeout", "8h", 0, nil, true},
		{"bad ip", "Framed-IP-Address", "::1", 0, nil, true},
		{"unknown", "No-Such-Attr", "x", 0, nil, true},
		{"empty", "Class", "", 0, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			avp, err := Encode(tt.attr, tt.value)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && (byte(avp.Type) != tt.wantType || !bytes.Equal(avp.Value, tt.want)) {
				t.Fatalf("got %d %x, want %d %x", avp.Type, avp.Value, tt.wantType, tt.want)
			}
		})
	}
}
