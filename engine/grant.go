package engine

import (
	"encoding/binary"
	"errors"
)

// grant is what the first leg decided about authorization, carried through the challenge in the
// sealed State so the final Accept has the same reply attributes whichever node sends it, and
// what a later leg needs (SMS code hash, phone, old password for a change). The generation ties
// rule indices to the configuration that computed them.
type grant struct {
	generation uint32
	rule       int    // policy rule index, -1 for the default
	authz      []byte // authorization rule indices
	phone      string // E.164 number SMS may use ("" = no SMS)
	codeHash   []byte // hash of the SMS code sent (nil = none)
	nonce      []byte // identifies the SMS code for single use and tries
	secret     []byte // old password during a password change
	confirm    []byte // hash of the new password awaiting confirmation
	class      []byte // upstream Class values, each length-prefixed (see packClass)
}

// maxClass bounds the upstream Class bytes a State carries; the State attribute has room for
// little more, and NPS's Class values are about 30–50 bytes.
const maxClass = 96

// packClass length-prefixes Class values, keeping those that fit in maxClass.
func packClass(values [][]byte) []byte {
	var b []byte
	for _, v := range values {
		if len(v) == 0 || len(b)+1+len(v) > maxClass {
			continue
		}
		b = append(b, byte(len(v)))
		b = append(b, v...)
	}
	return b
}

// unpackClass reverses packClass.
func unpackClass(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		n := int(b[0])
		if n == 0 || 1+n > len(b) {
			return out
		}
		out = append(out, b[1:1+n])
		b = b[1+n:]
	}
	return out
}

var errGrant = errors.New("engine: malformed grant in State")

// encode writes the grant compactly: every variable field is length-prefixed.
func (g grant) encode() []byte {
	b := make([]byte, 0, 64)
	b = binary.BigEndian.AppendUint32(b, g.generation)
	b = append(b, byte(g.rule+1))
	for _, f := range [][]byte{g.authz, []byte(g.phone), g.codeHash, g.nonce, g.secret, g.confirm, g.class} {
		b = append(b, byte(len(f)))
		b = append(b, f...)
	}
	return b
}

// fits reports whether encode can carry g exactly: the rule index and every field length
// travel as one byte.
func (g grant) fits() bool {
	if g.rule < -1 || g.rule > 254 {
		return false
	}
	for _, f := range [][]byte{g.authz, []byte(g.phone), g.codeHash, g.nonce, g.secret, g.confirm, g.class} {
		if len(f) > 255 {
			return false
		}
	}
	return true
}

func decodeGrant(b []byte) (grant, error) {
	if len(b) < 5 {
		return grant{}, errGrant
	}
	g := grant{generation: binary.BigEndian.Uint32(b), rule: int(b[4]) - 1}
	b = b[5:]
	fields := make([][]byte, 7)
	for i := range fields {
		if len(b) < 1 || len(b) < 1+int(b[0]) {
			return grant{}, errGrant
		}
		n := int(b[0])
		if n > 0 {
			fields[i] = append([]byte(nil), b[1:1+n]...)
		}
		b = b[1+n:]
	}
	if len(b) != 0 {
		return grant{}, errGrant
	}
	g.authz, g.phone, g.codeHash, g.nonce, g.secret, g.confirm, g.class =
		fields[0], string(fields[1]), fields[2], fields[3], fields[4], fields[5], fields[6]
	return g, nil
}
