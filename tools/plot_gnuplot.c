/* plot_gnuplot.c — what `lnet plot` needs to draw with gnuplot: a temporary
 * folder for the script and the data files, gnuplot's terminal for the
 * output's extension, strings quoted for its scripts, and gnuplot itself, run
 * without a shell (posix_spawnp: no quoting of paths), its output captured
 * for the error message.
 */
#include "plot.h"

#include <dirent.h>
#include <errno.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
bool plot_tmp_open(PlotTmp *t, bool keep, char *err, size_t errcap)
{
    t->keep = keep;
    const char *tmp = getenv("TMPDIR");
    snprintf(t->dir, sizeof t->dir, "%s/lnet-plot-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(t->dir))
        return true;
    snprintf(err, errcap, "cannot create '%s': %s", t->dir, strerror(errno));
    t->dir[0] = '\0';
    return false;
}

/* Removes the folder and the files written into it (no subfolders). */
void plot_tmp_close(PlotTmp *t)
{
    if (t->keep && t->dir[0]) {
        printf("lnet plot: gnuplot's script and data kept in %s\n", t->dir);
        return;
    }
    DIR *d = t->dir[0] ? opendir(t->dir) : NULL;
    for (struct dirent *e; d && (e = readdir(d));) {
        char path[4400];
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(path, sizeof path, "%s/%s", t->dir, e->d_name);
            unlink(path);
        }
    }
    if (d)
        closedir(d);
    if (t->dir[0])
        rmdir(t->dir);
    t->dir[0] = '\0';
}

FILE *plot_tmp_file(const PlotTmp *t, const char *name, char *path, size_t cap, char *err,
                    size_t errcap)
{
    snprintf(path, cap, "%s/%s", t->dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        snprintf(err, errcap, "cannot write '%s': %s", path, strerror(errno));
    return f;
}

bool plot_tmp_done(FILE *f, const char *path, char *err, size_t errcap)
{
    errno = 0;
    bool ok = !ferror(f);
    ok = fclose(f) == 0 && ok;
    if (!ok)
        snprintf(err, errcap, "cannot write '%s': %s", path, strerror(errno ? errno : EIO));
    return ok;
}

/* s as a gnuplot string: single quotes, where '' stands for one. */
void plot_gp_quote(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++)
        fputs(*s == '\'' ? "''" : (char[2]){*s, 0}, f);
    fputc('\'', f);
}

void plot_gp_terminal(FILE *f, const char *out, int w, int h)
{
    const char *dot = strrchr(out, '.');
    if (dot && strcmp(dot, ".svg") == 0)
        fprintf(f, "set terminal svg size %d,%d noenhanced font 'sans,12' background "
                "'white'\n", w, h);
    else
        fprintf(f, "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
                "  set terminal pngcairo size %d,%d noenhanced font 'sans,11'\n"
                "} else {\n  set terminal png size %d,%d noenhanced\n}\n", w, h, w, h);
    fputs("set output ", f);
    plot_gp_quote(f, out);
    fputc('\n', f);
}

/* Keeps the first cap-1 bytes of what fd gives until its end. */
static void read_all(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    char sink[512];
    for (;;) {
        bool room = n + 1 < cap;
        ssize_t got = read(fd, room ? buf + n : sink, room ? cap - 1 - n : sizeof sink);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        if (room)
            n += (size_t)got;
    }
    buf[n] = '\0';
}

bool plot_gnuplot(const char *script, char *err, size_t errcap)
{
    int fds[2];
    if (pipe(fds) != 0) {
        snprintf(err, errcap, "cannot run gnuplot: %s", strerror(errno));
        return false;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    char *argv[] = {(char *)"gnuplot", (char *)script, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    char out[2048] = "";
    if (rc == 0)
        read_all(fds[0], out, sizeof out);
    close(fds[0]);
    if (rc != 0) {
        snprintf(err, errcap, rc == ENOENT ? "gnuplot is not installed (or not on PATH): "
                 "install it with 'sudo apt install gnuplot'" : "cannot run gnuplot: %s",
                 strerror(rc));
        return false;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            snprintf(err, errcap, "cannot wait for gnuplot: %s", strerror(errno));
            return false;
        }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return true;
    snprintf(err, errcap, "gnuplot failed (%s %d) on %s:\n%s",
             WIFEXITED(status) ? "exit status" : "signal",
             WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), script, out);
    return false;
}

const char *plot_stem(const char *path, char *buf, size_t cap)
{
    const char *slash = strrchr(path, '/');
    snprintf(buf, cap, "%s", slash ? slash + 1 : path);
    char *dot = strrchr(buf, '.');
    if (dot && dot != buf)
        *dot = '\0';
    return buf;
}
