/*
 * Prints, as JSON, the layout of every FUSE struct the codec reads or writes,
 * as the C compiler sees it through the installed <linux/fuse.h>, plus the
 * header's constants. test/abi.test.ts compiles and runs this so that the
 * codec's offsets are checked against the header, not against themselves.
 *
 * Output: {"minor":N,
 *          "structs":{"NAME":{"size":S,"fields":{"FIELD":[offset,width]|[offset,width,"STRUCT"]}}},
 *          "consts":{"NAME":"decimal"}}
 * Constants are strings because several are 64-bit (JSON numbers are doubles).
 * A flexible array member is reported with width 0.
 *
 * The header this runs against may be older than the protocol the codec
 * speaks (Debian 12 ships 7.38; the codec speaks 7.45). Whatever a header
 * lacks is guarded out here, by the feature macro that came with it where
 * there is one, else by FUSE_KERNEL_MINOR_VERSION; the test supplies those
 * layouts by hand and cross-checks them whenever a newer header has them.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <linux/ioctl.h>
#include <linux/fuse.h>

static int first_struct = 1;
static int first_field;

static void begin(const char *name, size_t size)
{
	printf("%s\n    \"%s\": {\"size\": %zu, \"fields\": {", first_struct ? "" : ",", name, size);
	first_struct = 0;
	first_field = 1;
}

static void field(const char *name, size_t off, size_t width, const char *type)
{
	printf("%s\"%s\": [%zu, %zu", first_field ? "" : ", ", name, off, width);
	if (type)
		printf(", \"%s\"", type);
	printf("]");
	first_field = 0;
}

static void end(void)
{
	printf("}}");
}

static int first_const = 1;

static void constant(const char *name, unsigned long long value)
{
	printf("%s\n    \"%s\": \"%llu\"", first_const ? "" : ",", name, value);
	first_const = 0;
}

#define S(T) begin(#T, sizeof(struct T))
#define MEMBER_SIZE(T, f) sizeof(((struct T *)0)->f)
/* A scalar or array member. */
#define F(T, f) field(#f, offsetof(struct T, f), MEMBER_SIZE(T, f), NULL)
/* A member that is itself a struct, reported with the struct's name. */
#define N(T, f, U) field(#f, offsetof(struct T, f), MEMBER_SIZE(T, f), #U)
/* A flexible array member: it has an offset but no size. */
#define FLEX(T, f) field(#f, offsetof(struct T, f), 0, NULL)
#define E end()
/*
 * Flags such as FUSE_INIT_RESERVED are (1 << 31), an int: sign-extending it to
 * 64 bits would print a value no u32 field can hold. An int constant is printed
 * as the 32 bits it stands for.
 */
#define C(name) constant(#name, _Generic((name), \
	int: (unsigned long long)(unsigned int)(name), \
	default: (unsigned long long)(name)))

static void structs(void)
{
	S(fuse_in_header); F(fuse_in_header, len); F(fuse_in_header, opcode); F(fuse_in_header, unique);
	F(fuse_in_header, nodeid); F(fuse_in_header, uid); F(fuse_in_header, gid); F(fuse_in_header, pid);
	F(fuse_in_header, total_extlen); F(fuse_in_header, padding); E;

	S(fuse_out_header); F(fuse_out_header, len); F(fuse_out_header, error); F(fuse_out_header, unique); E;

	S(fuse_attr); F(fuse_attr, ino); F(fuse_attr, size); F(fuse_attr, blocks); F(fuse_attr, atime);
	F(fuse_attr, mtime); F(fuse_attr, ctime); F(fuse_attr, atimensec); F(fuse_attr, mtimensec);
	F(fuse_attr, ctimensec); F(fuse_attr, mode); F(fuse_attr, nlink); F(fuse_attr, uid); F(fuse_attr, gid);
	F(fuse_attr, rdev); F(fuse_attr, blksize); F(fuse_attr, flags); E;

	S(fuse_entry_out); F(fuse_entry_out, nodeid); F(fuse_entry_out, generation); F(fuse_entry_out, entry_valid);
	F(fuse_entry_out, attr_valid); F(fuse_entry_out, entry_valid_nsec); F(fuse_entry_out, attr_valid_nsec);
	N(fuse_entry_out, attr, fuse_attr); E;

	S(fuse_attr_out); F(fuse_attr_out, attr_valid); F(fuse_attr_out, attr_valid_nsec); F(fuse_attr_out, dummy);
	N(fuse_attr_out, attr, fuse_attr); E;

	/* 7.40 renamed the padding to backing_id; FUSE_PASSTHROUGH came with it. */
	S(fuse_open_out); F(fuse_open_out, fh); F(fuse_open_out, open_flags);
#ifdef FUSE_PASSTHROUGH
	F(fuse_open_out, backing_id);
#else
	F(fuse_open_out, padding);
#endif
	E;

	S(fuse_init_in); F(fuse_init_in, major); F(fuse_init_in, minor); F(fuse_init_in, max_readahead);
	F(fuse_init_in, flags); F(fuse_init_in, flags2); F(fuse_init_in, unused); E;

	/* max_stack_depth (7.40) and request_timeout (7.43) were carved out of unused[]. */
	S(fuse_init_out); F(fuse_init_out, major); F(fuse_init_out, minor); F(fuse_init_out, max_readahead);
	F(fuse_init_out, flags); F(fuse_init_out, max_background); F(fuse_init_out, congestion_threshold);
	F(fuse_init_out, max_write); F(fuse_init_out, time_gran); F(fuse_init_out, max_pages);
	F(fuse_init_out, map_alignment); F(fuse_init_out, flags2);
#ifdef FUSE_PASSTHROUGH
	F(fuse_init_out, max_stack_depth);
#endif
#ifdef FUSE_REQUEST_TIMEOUT
	F(fuse_init_out, request_timeout);
#endif
	F(fuse_init_out, unused); E;

	S(fuse_forget_in); F(fuse_forget_in, nlookup); E;
	S(fuse_forget_one); F(fuse_forget_one, nodeid); F(fuse_forget_one, nlookup); E;
	S(fuse_batch_forget_in); F(fuse_batch_forget_in, count); F(fuse_batch_forget_in, dummy); E;
	S(fuse_getattr_in); F(fuse_getattr_in, getattr_flags); F(fuse_getattr_in, dummy); F(fuse_getattr_in, fh); E;

	S(fuse_setattr_in); F(fuse_setattr_in, valid); F(fuse_setattr_in, padding); F(fuse_setattr_in, fh);
	F(fuse_setattr_in, size); F(fuse_setattr_in, lock_owner); F(fuse_setattr_in, atime); F(fuse_setattr_in, mtime);
	F(fuse_setattr_in, ctime); F(fuse_setattr_in, atimensec); F(fuse_setattr_in, mtimensec);
	F(fuse_setattr_in, ctimensec); F(fuse_setattr_in, mode); F(fuse_setattr_in, unused4); F(fuse_setattr_in, uid);
	F(fuse_setattr_in, gid); F(fuse_setattr_in, unused5); E;

	S(fuse_mknod_in); F(fuse_mknod_in, mode); F(fuse_mknod_in, rdev); F(fuse_mknod_in, umask);
	F(fuse_mknod_in, padding); E;
	S(fuse_mkdir_in); F(fuse_mkdir_in, mode); F(fuse_mkdir_in, umask); E;
	S(fuse_rename_in); F(fuse_rename_in, newdir); E;
	S(fuse_rename2_in); F(fuse_rename2_in, newdir); F(fuse_rename2_in, flags); F(fuse_rename2_in, padding); E;
	S(fuse_link_in); F(fuse_link_in, oldnodeid); E;
	S(fuse_open_in); F(fuse_open_in, flags); F(fuse_open_in, open_flags); E;
	S(fuse_create_in); F(fuse_create_in, flags); F(fuse_create_in, mode); F(fuse_create_in, umask);
	F(fuse_create_in, open_flags); E;
	S(fuse_release_in); F(fuse_release_in, fh); F(fuse_release_in, flags); F(fuse_release_in, release_flags);
	F(fuse_release_in, lock_owner); E;
	S(fuse_flush_in); F(fuse_flush_in, fh); F(fuse_flush_in, unused); F(fuse_flush_in, padding);
	F(fuse_flush_in, lock_owner); E;

	S(fuse_read_in); F(fuse_read_in, fh); F(fuse_read_in, offset); F(fuse_read_in, size);
	F(fuse_read_in, read_flags); F(fuse_read_in, lock_owner); F(fuse_read_in, flags); F(fuse_read_in, padding); E;
	S(fuse_write_in); F(fuse_write_in, fh); F(fuse_write_in, offset); F(fuse_write_in, size);
	F(fuse_write_in, write_flags); F(fuse_write_in, lock_owner); F(fuse_write_in, flags);
	F(fuse_write_in, padding); E;
	S(fuse_write_out); F(fuse_write_out, size); F(fuse_write_out, padding); E;

	S(fuse_kstatfs); F(fuse_kstatfs, blocks); F(fuse_kstatfs, bfree); F(fuse_kstatfs, bavail);
	F(fuse_kstatfs, files); F(fuse_kstatfs, ffree); F(fuse_kstatfs, bsize); F(fuse_kstatfs, namelen);
	F(fuse_kstatfs, frsize); F(fuse_kstatfs, padding); F(fuse_kstatfs, spare); E;
	S(fuse_statfs_out); N(fuse_statfs_out, st, fuse_kstatfs); E;

	S(fuse_fsync_in); F(fuse_fsync_in, fh); F(fuse_fsync_in, fsync_flags); F(fuse_fsync_in, padding); E;
	S(fuse_setxattr_in); F(fuse_setxattr_in, size); F(fuse_setxattr_in, flags);
	F(fuse_setxattr_in, setxattr_flags); F(fuse_setxattr_in, padding); E;
	S(fuse_getxattr_in); F(fuse_getxattr_in, size); F(fuse_getxattr_in, padding); E;
	S(fuse_getxattr_out); F(fuse_getxattr_out, size); F(fuse_getxattr_out, padding); E;

	S(fuse_file_lock); F(fuse_file_lock, start); F(fuse_file_lock, end); F(fuse_file_lock, type);
	F(fuse_file_lock, pid); E;
	S(fuse_lk_in); F(fuse_lk_in, fh); F(fuse_lk_in, owner); N(fuse_lk_in, lk, fuse_file_lock);
	F(fuse_lk_in, lk_flags); F(fuse_lk_in, padding); E;
	S(fuse_lk_out); N(fuse_lk_out, lk, fuse_file_lock); E;

	S(fuse_access_in); F(fuse_access_in, mask); F(fuse_access_in, padding); E;
	S(fuse_interrupt_in); F(fuse_interrupt_in, unique); E;
	S(fuse_bmap_in); F(fuse_bmap_in, block); F(fuse_bmap_in, blocksize); F(fuse_bmap_in, padding); E;
	S(fuse_bmap_out); F(fuse_bmap_out, block); E;

	S(fuse_ioctl_in); F(fuse_ioctl_in, fh); F(fuse_ioctl_in, flags); F(fuse_ioctl_in, cmd); F(fuse_ioctl_in, arg);
	F(fuse_ioctl_in, in_size); F(fuse_ioctl_in, out_size); E;
	S(fuse_ioctl_iovec); F(fuse_ioctl_iovec, base); F(fuse_ioctl_iovec, len); E;
	S(fuse_ioctl_out); F(fuse_ioctl_out, result); F(fuse_ioctl_out, flags); F(fuse_ioctl_out, in_iovs);
	F(fuse_ioctl_out, out_iovs); E;

	S(fuse_poll_in); F(fuse_poll_in, fh); F(fuse_poll_in, kh); F(fuse_poll_in, flags); F(fuse_poll_in, events); E;
	S(fuse_poll_out); F(fuse_poll_out, revents); F(fuse_poll_out, padding); E;

	S(fuse_fallocate_in); F(fuse_fallocate_in, fh); F(fuse_fallocate_in, offset); F(fuse_fallocate_in, length);
	F(fuse_fallocate_in, mode); F(fuse_fallocate_in, padding); E;
	S(fuse_lseek_in); F(fuse_lseek_in, fh); F(fuse_lseek_in, offset); F(fuse_lseek_in, whence);
	F(fuse_lseek_in, padding); E;
	S(fuse_lseek_out); F(fuse_lseek_out, offset); E;
	S(fuse_copy_file_range_in); F(fuse_copy_file_range_in, fh_in); F(fuse_copy_file_range_in, off_in);
	F(fuse_copy_file_range_in, nodeid_out); F(fuse_copy_file_range_in, fh_out); F(fuse_copy_file_range_in, off_out);
	F(fuse_copy_file_range_in, len); F(fuse_copy_file_range_in, flags); E;

	S(fuse_setupmapping_in); F(fuse_setupmapping_in, fh); F(fuse_setupmapping_in, foffset);
	F(fuse_setupmapping_in, len); F(fuse_setupmapping_in, flags); F(fuse_setupmapping_in, moffset); E;
	S(fuse_removemapping_in); F(fuse_removemapping_in, count); E;
	S(fuse_removemapping_one); F(fuse_removemapping_one, moffset); F(fuse_removemapping_one, len); E;
	S(fuse_syncfs_in); F(fuse_syncfs_in, padding); E;

	S(fuse_dirent); F(fuse_dirent, ino); F(fuse_dirent, off); F(fuse_dirent, namelen); F(fuse_dirent, type);
	FLEX(fuse_dirent, name); E;
	S(fuse_direntplus); N(fuse_direntplus, entry_out, fuse_entry_out); N(fuse_direntplus, dirent, fuse_dirent); E;

	S(fuse_notify_poll_wakeup_out); F(fuse_notify_poll_wakeup_out, kh); E;
	S(fuse_notify_inval_inode_out); F(fuse_notify_inval_inode_out, ino); F(fuse_notify_inval_inode_out, off);
	F(fuse_notify_inval_inode_out, len); E;
	S(fuse_notify_inval_entry_out); F(fuse_notify_inval_entry_out, parent); F(fuse_notify_inval_entry_out, namelen);
	F(fuse_notify_inval_entry_out, flags); E;
	S(fuse_notify_delete_out); F(fuse_notify_delete_out, parent); F(fuse_notify_delete_out, child);
	F(fuse_notify_delete_out, namelen); F(fuse_notify_delete_out, padding); E;
	S(fuse_notify_store_out); F(fuse_notify_store_out, nodeid); F(fuse_notify_store_out, offset);
	F(fuse_notify_store_out, size); F(fuse_notify_store_out, padding); E;
	S(fuse_notify_retrieve_out); F(fuse_notify_retrieve_out, notify_unique); F(fuse_notify_retrieve_out, nodeid);
	F(fuse_notify_retrieve_out, offset); F(fuse_notify_retrieve_out, size); F(fuse_notify_retrieve_out, padding); E;
	S(fuse_notify_retrieve_in); F(fuse_notify_retrieve_in, dummy1); F(fuse_notify_retrieve_in, offset);
	F(fuse_notify_retrieve_in, size); F(fuse_notify_retrieve_in, dummy2); F(fuse_notify_retrieve_in, dummy3);
	F(fuse_notify_retrieve_in, dummy4); E;

	S(fuse_ext_header); F(fuse_ext_header, size); F(fuse_ext_header, type); E;
	S(fuse_secctx_header); F(fuse_secctx_header, size); F(fuse_secctx_header, nr_secctx); E;
	S(fuse_secctx); F(fuse_secctx, size); F(fuse_secctx, padding); E;

	/* Newer than Debian 12's header (7.38): the test has these by hand. */
#ifdef FUSE_CREATE_SUPP_GROUP
	S(fuse_supp_groups); F(fuse_supp_groups, nr_groups); FLEX(fuse_supp_groups, groups); E;
#endif
#if FUSE_KERNEL_MINOR_VERSION >= 39
	S(fuse_statx_in); F(fuse_statx_in, getattr_flags); F(fuse_statx_in, reserved); F(fuse_statx_in, fh);
	F(fuse_statx_in, sx_flags); F(fuse_statx_in, sx_mask); E;
	S(fuse_sx_time); F(fuse_sx_time, tv_sec); F(fuse_sx_time, tv_nsec); F(fuse_sx_time, __reserved); E;
	S(fuse_statx); F(fuse_statx, mask); F(fuse_statx, blksize); F(fuse_statx, attributes); F(fuse_statx, nlink);
	F(fuse_statx, uid); F(fuse_statx, gid); F(fuse_statx, mode); F(fuse_statx, __spare0); F(fuse_statx, ino);
	F(fuse_statx, size); F(fuse_statx, blocks); F(fuse_statx, attributes_mask);
	N(fuse_statx, atime, fuse_sx_time); N(fuse_statx, btime, fuse_sx_time); N(fuse_statx, ctime, fuse_sx_time);
	N(fuse_statx, mtime, fuse_sx_time); F(fuse_statx, rdev_major); F(fuse_statx, rdev_minor);
	F(fuse_statx, dev_major); F(fuse_statx, dev_minor); F(fuse_statx, __spare2); E;
	S(fuse_statx_out); F(fuse_statx_out, attr_valid); F(fuse_statx_out, attr_valid_nsec); F(fuse_statx_out, flags);
	F(fuse_statx_out, spare); N(fuse_statx_out, stat, fuse_statx); E;
#endif
#ifdef FUSE_PASSTHROUGH
	S(fuse_backing_map); F(fuse_backing_map, fd); F(fuse_backing_map, flags); F(fuse_backing_map, padding); E;
#endif
#if FUSE_KERNEL_MINOR_VERSION >= 45
	S(fuse_notify_prune_out); F(fuse_notify_prune_out, count); F(fuse_notify_prune_out, padding);
	F(fuse_notify_prune_out, spare); E;
	S(fuse_copy_file_range_out); F(fuse_copy_file_range_out, bytes_copied); E;
#endif
}

static void consts(void)
{
	C(FUSE_KERNEL_VERSION); C(FUSE_KERNEL_MINOR_VERSION); C(FUSE_ROOT_ID); C(FUSE_MIN_READ_BUFFER);

	/* Sizes of the layouts older minors use. */
	C(FUSE_COMPAT_ENTRY_OUT_SIZE); C(FUSE_COMPAT_ATTR_OUT_SIZE); C(FUSE_COMPAT_MKNOD_IN_SIZE);
	C(FUSE_COMPAT_WRITE_IN_SIZE); C(FUSE_COMPAT_STATFS_SIZE); C(FUSE_COMPAT_SETXATTR_IN_SIZE);
	C(FUSE_COMPAT_INIT_OUT_SIZE); C(FUSE_COMPAT_22_INIT_OUT_SIZE);

	/*
	 * Records in READDIR(PLUS) replies: where the name starts, and the
	 * header's record size for every name length over a few alignment periods.
	 */
	C(FUSE_NAME_OFFSET); C(FUSE_NAME_OFFSET_DIRENTPLUS);
	for (unsigned n = 0; n <= 24; n++) {
		char name[64];
		snprintf(name, sizeof(name), "FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET+%u)", n);
		constant(name, FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + n));
		snprintf(name, sizeof(name), "FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS+%u)", n);
		constant(name, FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS + n));
	}
	/* The same rounding for the extension area (7.38), which has no name-offset macro. */
	for (unsigned n = 0; n <= 128; n++) {
		char name[32];
		snprintf(name, sizeof(name), "FUSE_REC_ALIGN(%u)", n);
		constant(name, FUSE_REC_ALIGN(n));
	}

	C(FUSE_LOOKUP); C(FUSE_FORGET); C(FUSE_GETATTR); C(FUSE_SETATTR); C(FUSE_READLINK); C(FUSE_SYMLINK);
	C(FUSE_MKNOD); C(FUSE_MKDIR); C(FUSE_UNLINK); C(FUSE_RMDIR); C(FUSE_RENAME); C(FUSE_LINK); C(FUSE_OPEN);
	C(FUSE_READ); C(FUSE_WRITE); C(FUSE_STATFS); C(FUSE_RELEASE); C(FUSE_FSYNC); C(FUSE_SETXATTR);
	C(FUSE_GETXATTR); C(FUSE_LISTXATTR); C(FUSE_REMOVEXATTR); C(FUSE_FLUSH); C(FUSE_INIT); C(FUSE_OPENDIR);
	C(FUSE_READDIR); C(FUSE_RELEASEDIR); C(FUSE_FSYNCDIR); C(FUSE_GETLK); C(FUSE_SETLK); C(FUSE_SETLKW);
	C(FUSE_ACCESS); C(FUSE_CREATE); C(FUSE_INTERRUPT); C(FUSE_BMAP); C(FUSE_DESTROY); C(FUSE_IOCTL);
	C(FUSE_POLL); C(FUSE_NOTIFY_REPLY); C(FUSE_BATCH_FORGET); C(FUSE_FALLOCATE); C(FUSE_READDIRPLUS);
	C(FUSE_RENAME2); C(FUSE_LSEEK); C(FUSE_COPY_FILE_RANGE); C(FUSE_SETUPMAPPING); C(FUSE_REMOVEMAPPING);
	C(FUSE_SYNCFS); C(FUSE_TMPFILE); C(CUSE_INIT);
#if FUSE_KERNEL_MINOR_VERSION >= 39
	C(FUSE_STATX);
#endif
#if FUSE_KERNEL_MINOR_VERSION >= 45
	C(FUSE_COPY_FILE_RANGE_64);
#endif

	C(FUSE_NOTIFY_POLL); C(FUSE_NOTIFY_INVAL_INODE); C(FUSE_NOTIFY_INVAL_ENTRY); C(FUSE_NOTIFY_STORE);
	C(FUSE_NOTIFY_RETRIEVE); C(FUSE_NOTIFY_DELETE);
#if FUSE_KERNEL_MINOR_VERSION >= 40
	C(FUSE_NOTIFY_RESEND);
#endif
#if FUSE_KERNEL_MINOR_VERSION >= 44
	C(FUSE_NOTIFY_INC_EPOCH);
#endif
#if FUSE_KERNEL_MINOR_VERSION >= 45
	C(FUSE_NOTIFY_PRUNE);
#endif

	C(FUSE_ASYNC_READ); C(FUSE_POSIX_LOCKS); C(FUSE_FILE_OPS); C(FUSE_ATOMIC_O_TRUNC); C(FUSE_EXPORT_SUPPORT);
	C(FUSE_BIG_WRITES); C(FUSE_DONT_MASK); C(FUSE_SPLICE_WRITE); C(FUSE_SPLICE_MOVE); C(FUSE_SPLICE_READ);
	C(FUSE_FLOCK_LOCKS); C(FUSE_HAS_IOCTL_DIR); C(FUSE_AUTO_INVAL_DATA); C(FUSE_DO_READDIRPLUS);
	C(FUSE_READDIRPLUS_AUTO); C(FUSE_ASYNC_DIO); C(FUSE_WRITEBACK_CACHE); C(FUSE_NO_OPEN_SUPPORT);
	C(FUSE_PARALLEL_DIROPS); C(FUSE_HANDLE_KILLPRIV); C(FUSE_POSIX_ACL); C(FUSE_ABORT_ERROR); C(FUSE_MAX_PAGES);
	C(FUSE_CACHE_SYMLINKS); C(FUSE_NO_OPENDIR_SUPPORT); C(FUSE_EXPLICIT_INVAL_DATA); C(FUSE_MAP_ALIGNMENT);
	C(FUSE_SUBMOUNTS); C(FUSE_HANDLE_KILLPRIV_V2); C(FUSE_SETXATTR_EXT); C(FUSE_INIT_EXT); C(FUSE_INIT_RESERVED);
	C(FUSE_SECURITY_CTX); C(FUSE_HAS_INODE_DAX); C(FUSE_HAS_EXPIRE_ONLY);
#ifdef FUSE_CREATE_SUPP_GROUP
	C(FUSE_CREATE_SUPP_GROUP);
#endif
#ifdef FUSE_DIRECT_IO_ALLOW_MMAP
	C(FUSE_DIRECT_IO_ALLOW_MMAP);
#endif
#ifdef FUSE_PASSTHROUGH
	C(FUSE_PASSTHROUGH);
#endif
#ifdef FUSE_NO_EXPORT_SUPPORT
	C(FUSE_NO_EXPORT_SUPPORT);
#endif
#ifdef FUSE_HAS_RESEND
	C(FUSE_HAS_RESEND);
#endif
#ifdef FUSE_ALLOW_IDMAP
	C(FUSE_ALLOW_IDMAP);
#endif
#ifdef FUSE_OVER_IO_URING
	C(FUSE_OVER_IO_URING);
#endif
#ifdef FUSE_REQUEST_TIMEOUT
	C(FUSE_REQUEST_TIMEOUT);
#endif
	C(CUSE_UNRESTRICTED_IOCTL);

	C(FATTR_MODE); C(FATTR_UID); C(FATTR_GID); C(FATTR_SIZE); C(FATTR_ATIME); C(FATTR_MTIME); C(FATTR_FH);
	C(FATTR_ATIME_NOW); C(FATTR_MTIME_NOW); C(FATTR_LOCKOWNER); C(FATTR_CTIME); C(FATTR_KILL_SUIDGID);

	C(FOPEN_DIRECT_IO); C(FOPEN_KEEP_CACHE); C(FOPEN_NONSEEKABLE); C(FOPEN_CACHE_DIR); C(FOPEN_STREAM);
	C(FOPEN_NOFLUSH); C(FOPEN_PARALLEL_DIRECT_WRITES);
#ifdef FOPEN_PASSTHROUGH
	C(FOPEN_PASSTHROUGH);
#endif

	C(FUSE_RELEASE_FLUSH); C(FUSE_RELEASE_FLOCK_UNLOCK); C(FUSE_GETATTR_FH); C(FUSE_LK_FLOCK);
	C(FUSE_WRITE_CACHE); C(FUSE_WRITE_LOCKOWNER); C(FUSE_WRITE_KILL_SUIDGID); C(FUSE_READ_LOCKOWNER);
	C(FUSE_IOCTL_COMPAT); C(FUSE_IOCTL_UNRESTRICTED); C(FUSE_IOCTL_RETRY); C(FUSE_IOCTL_32BIT); C(FUSE_IOCTL_DIR);
	C(FUSE_IOCTL_COMPAT_X32); C(FUSE_IOCTL_MAX_IOV); C(FUSE_POLL_SCHEDULE_NOTIFY); C(FUSE_FSYNC_FDATASYNC);
	C(FUSE_ATTR_SUBMOUNT); C(FUSE_ATTR_DAX); C(FUSE_OPEN_KILL_SUIDGID); C(FUSE_SETXATTR_ACL_KILL_SGID);
	C(FUSE_EXPIRE_ONLY); C(FUSE_SETUPMAPPING_FLAG_WRITE); C(FUSE_SETUPMAPPING_FLAG_READ); C(FUSE_MAX_NR_SECCTX);
#ifdef FUSE_CREATE_SUPP_GROUP
	C(FUSE_EXT_GROUPS);
#endif
#ifdef FUSE_UNIQUE_RESEND
	C(FUSE_UNIQUE_RESEND);
#endif
#ifdef FUSE_INVALID_UIDGID
	C(FUSE_INVALID_UIDGID);
#endif

	C(FUSE_DEV_IOC_CLONE);
#ifdef FUSE_DEV_IOC_BACKING_OPEN
	C(FUSE_DEV_IOC_BACKING_OPEN);
#endif
#ifdef FUSE_DEV_IOC_BACKING_CLOSE
	C(FUSE_DEV_IOC_BACKING_CLOSE);
#endif
#ifdef FUSE_DEV_IOC_SYNC_INIT
	C(FUSE_DEV_IOC_SYNC_INIT);
#endif
	/*
	 * The ioctl encodings the newer ioctls use, computed here with this
	 * machine's _IOW/_IO so the test need not re-implement them: BACKING_OPEN
	 * is _IOW(229, 1, struct fuse_backing_map) (16 bytes), BACKING_CLOSE is
	 * _IOW(229, 2, uint32_t), SYNC_INIT is _IO(229, 3).
	 */
	constant("IOW_229_1_16", _IOW(FUSE_DEV_IOC_MAGIC, 1, uint8_t[16]));
	constant("IOW_229_2_4", _IOW(FUSE_DEV_IOC_MAGIC, 2, uint32_t));
	constant("IO_229_3", _IO(FUSE_DEV_IOC_MAGIC, 3));
}

int main(void)
{
	printf("{\"minor\": %d,\n  \"structs\": {", FUSE_KERNEL_MINOR_VERSION);
	structs();
	printf("\n  },\n  \"consts\": {");
	consts();
	printf("\n  }\n}\n");
	return 0;
}
