/* data_file.c — opening an input file (IDX, text, checkpoint) without the
 * two traps of a plain open(): a FIFO (or a device) whose open blocks until
 * a writer appears, and a directory or socket that reads as garbage. The file
 * is opened non-blocking, must be a regular file (fstat), and is then put
 * back into blocking mode for ordinary reads. */
#include "rt_impl.h"
#include "data.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *kind_of(mode_t m) {
  return S_ISDIR(m)    ? "a directory"
         : S_ISFIFO(m) ? "a FIFO"
         : S_ISCHR(m)  ? "a character device"
         : S_ISBLK(m)  ? "a block device"
         : S_ISSOCK(m) ? "a socket"
                       : "a special file";
}

int rt_input_open(const char *path, int64_t *size, char *err, size_t errcap) {
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return rt_fail_path(err, errcap, path, "cannot open: %s", strerror(errno)), -1;
  struct stat sb;
  int fl;
  if (fstat(fd, &sb) != 0)
    rt_fail_path(err, errcap, path, "stat: %s", strerror(errno));
  else if (!S_ISREG(sb.st_mode))
    rt_fail_path(err, errcap, path, "is %s, not a regular file", kind_of(sb.st_mode));
  else if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0)
    rt_fail_path(err, errcap, path, "fcntl: %s", strerror(errno));
  else {
    if (size) *size = (int64_t)sb.st_size;
    return fd;
  }
  close(fd);
  return -1;
}
