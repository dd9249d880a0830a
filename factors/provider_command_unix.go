//go:build unix

package factors

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// killTree puts the program in its own process group and kills the whole group at the
// deadline. Killing only the program would leave a shell script's children (curl, sleep)
// running, holding its stderr open.
func killTree(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if errors.Is(err, syscall.ESRCH) {
			return os.ErrProcessDone
		}
		return err
	}
}
