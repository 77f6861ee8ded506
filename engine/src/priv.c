// SPDX-License-Identifier: MIT
/*
 * Least privilege for --user: tapreflect starts as root, creates and
 * configures the device and sets up every queue, then runs as an ordinary
 * user with no capability at all, before the first frame is read.
 *
 * Capabilities and the bounding set belong to each thread, and the workers
 * exist by then; so each worker empties its own bounding set and sets
 * no_new_privs after its setup (trf_priv_harden_thread), and the main thread
 * then changes ids (trf_priv_drop): glibc applies setgroups/setgid/setuid to
 * every thread, and the kernel clears a thread's permitted and effective
 * capabilities when its uids leave 0.  libcap-ng keeps its state per thread.
 */
#include <cap-ng.h>
#include <errno.h>
#include <grp.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "internal.h"

int trf_priv_harden_thread(struct trf_err *err)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return trf_errf(err, -errno, "--user: cannot set no_new_privs: %s",
				strerror(errno));
	capng_get_caps_process();
	capng_clear(CAPNG_SELECT_BOUNDS);
	if (capng_apply(CAPNG_SELECT_BOUNDS) < 0)
		return trf_errf(err, -EPERM,
				"--user: cannot empty a worker's capability bounding set "
				"(needs CAP_SETPCAP)");
	return 0;
}

int trf_priv_drop(const struct trf_config *cfg, struct trf_err *err)
{
	int ret;

	ret = trf_priv_harden_thread(err);
	if (ret < 0)
		return ret;
	capng_clear(CAPNG_SELECT_BOTH);
	ret = capng_change_id((int)cfg->run_uid, (int)cfg->run_gid,
			      CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING);
	if (ret < 0)
		return trf_errf(err, -EPERM,
				"--user %s: cannot change to uid %u gid %u (libcap-ng error %d) — "
				"--user needs root (CAP_SETUID, CAP_SETGID)",
				cfg->run_user, (unsigned int)cfg->run_uid,
				(unsigned int)cfg->run_gid, ret);
	/* Trust, but verify: every id changed, no capability left. */
	if (getuid() != cfg->run_uid || geteuid() != cfg->run_uid || getgid() != cfg->run_gid ||
	    getegid() != cfg->run_gid || getgroups(0, NULL) != 0 || capng_get_caps_process() < 0 ||
	    capng_have_capabilities(CAPNG_SELECT_BOTH) != CAPNG_NONE)
		return trf_errf(err, -EPERM, "--user %s: privileges still held after the change",
				cfg->run_user);
	return 0;
}
