package lockholder

import (
	"fmt"
	"os"
	"syscall"
)

// holders returns the PIDs holding a lock on the file at path.
func holders(path string) []int {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return nil
	}
	table, err := os.ReadFile("/proc/locks")
	if err != nil {
		return nil
	}
	dev := uint64(st.Dev)
	major := (dev>>8)&0xfff | (dev>>32)&^0xfff
	minor := dev&0xff | (dev>>12)&^0xff
	return parseLocks(table, fmt.Sprintf("%02x:%02x:%d", major, minor, st.Ino))
}
