package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

var deviceCases = []portalCase{
	{"devices remember and expire", testDevicesRemember},
	{"devices upsert", testDevicesUpsert},
	{"devices forget", testDevicesForget},
	{"devices refuse raw ids", testDevicesRawID},
}

func TestDeviceID(t *testing.T) {
	tests := []struct {
		name, value, want string
	}{
		{"empty", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"address", "203.0.113.7", DeviceID("203.0.113.7")},
	}
	for _, tc := range tests {
		if got := DeviceID(tc.value); got != tc.want || !validDeviceID(got) {
			t.Errorf("%s: DeviceID = %s", tc.name, got)
		}
	}
	if DeviceID("a") == DeviceID("b") {
		t.Error("different values, same ID")
	}
}

func device(user, value string, seen time.Time) Device {
	return Device{Username: user, ID: DeviceID(value), Label: "203.0.***.7", NAS: "vpn",
		LastSeen: seen, ExpiresAt: seen.Add(30 * 24 * time.Hour)}
}

func testDevicesRemember(t *testing.T, s portalStore) {
	ctx := context.Background()
	d := device("alice", "203.0.113.7", t0)
	if err := s.RememberDevice(ctx, d); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, user, id string
		at             time.Time
		want           bool
	}{
		{"remembered", "alice", d.ID, t0.Add(time.Hour), true},
		{"just before expiry", "alice", d.ID, d.ExpiresAt.Add(-time.Nanosecond), true},
		{"at expiry", "alice", d.ID, d.ExpiresAt, false},
		{"another device", "alice", DeviceID("198.51.100.1"), t0, false},
		{"another user", "bob", d.ID, t0, false},
	}
	for _, tc := range tests {
		got, err := s.DeviceRemembered(ctx, tc.user, tc.id, tc.at)
		if err != nil || got != tc.want {
			t.Errorf("%s: DeviceRemembered = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	list, err := s.ListDevices(ctx, "alice")
	if err != nil || len(list) != 1 {
		t.Fatalf("ListDevices = %v, %v", list, err)
	}
	want := d
	want.CreatedAt = t0
	if list[0] != want {
		t.Errorf("stored\n got %+v\nwant %+v", list[0], want)
	}
}

func testDevicesUpsert(t *testing.T, s portalStore) {
	ctx := context.Background()
	if err := s.RememberDevice(ctx, device("carol", "10.0.0.1", t0)); err != nil {
		t.Fatal(err)
	}
	if err := s.RememberDevice(ctx, device("carol", "10.0.0.2", t0.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	later := device("carol", "10.0.0.1", t0.Add(time.Hour))
	later.Label, later.NAS = "new label", "vpn2"
	if err := s.RememberDevice(ctx, later); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListDevices(ctx, "carol")
	if err != nil || len(list) != 2 {
		t.Fatalf("ListDevices = %v, %v; want 2 devices", list, err)
	}
	// Most recently seen first; the refresh kept created_at and took the rest.
	got := list[0]
	if got.ID != later.ID || !got.CreatedAt.Equal(t0) || !got.LastSeen.Equal(later.LastSeen) ||
		!got.ExpiresAt.Equal(later.ExpiresAt) || got.Label != "new label" || got.NAS != "vpn2" {
		t.Errorf("after refresh: %+v", got)
	}
	if list[1].ID != DeviceID("10.0.0.2") {
		t.Errorf("second device %+v", list[1])
	}
}

func testDevicesForget(t *testing.T, s portalStore) {
	ctx := context.Background()
	for _, v := range []string{"a", "b", "c"} {
		if err := s.RememberDevice(ctx, device("dave", v, t0)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RememberDevice(ctx, device("erin", "a", t0)); err != nil {
		t.Fatal(err)
	}
	if err := s.ForgetDevice(ctx, "dave", DeviceID("a")); err != nil {
		t.Fatal(err)
	}
	if err := s.ForgetDevice(ctx, "dave", DeviceID("a")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("forget twice: %v, want ErrNotFound", err)
	}
	if ok, _ := s.DeviceRemembered(ctx, "erin", DeviceID("a"), t0); !ok {
		t.Fatal("forgetting dave's device forgot erin's")
	}
	n, err := s.ForgetDevices(ctx, "dave")
	if err != nil || n != 2 {
		t.Fatalf("ForgetDevices = %d, %v; want 2", n, err)
	}
	if list, _ := s.ListDevices(ctx, "dave"); len(list) != 0 {
		t.Fatalf("left %v", list)
	}
}

func testDevicesRawID(t *testing.T, s portalStore) {
	ctx := context.Background()
	tests := []struct {
		name string
		d    Device
	}{
		{"raw address", Device{Username: "frank", ID: "203.0.113.7", ExpiresAt: t0}},
		{"upper-case hex", Device{Username: "frank", ID: "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", ExpiresAt: t0}},
		{"empty username", Device{ID: DeviceID("x"), ExpiresAt: t0}},
		{"no expiry", Device{Username: "frank", ID: DeviceID("x")}},
	}
	for _, tc := range tests {
		if err := s.RememberDevice(ctx, tc.d); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}
