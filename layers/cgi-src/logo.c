/*
 * logo.c - CGI/1.1 program in C that serves the Acme Jobs logo (a PNG).
 *
 *   GET /cgi-bin/logo.cgi              image/png, inline
 *   GET /cgi-bin/logo.cgi?download=1   same bytes, as an attachment
 *   HEAD                               headers only
 *
 * The image is read from ../htdocs/logo.png relative to the directory of
 * this executable (found through /proc/self/exe, else SCRIPT_FILENAME,
 * else argv[0]); ACME_LOGO_FILE overrides the path.  Headers use CRLF.
 *
 * Build: see Makefile (cc -O2 -Wall -o ../cgi-bin/logo.cgi logo.c).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILE (8L * 1024 * 1024)

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void simple_response(const char *status, const char *extra, const char *msg)
{
    char buf[512];
    int n = snprintf(buf, sizeof buf,
                     "Status: %s\r\n%sContent-Type: text/plain\r\n\r\n%s\n",
                     status, extra ? extra : "", msg);
    if (n > 0)
        write_all(STDOUT_FILENO, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* Directory of this executable, into dir (without trailing slash). */
static int exe_dir(char *dir, size_t size, const char *argv0)
{
    ssize_t n = readlink("/proc/self/exe", dir, size - 1);
    if (n > 0) {
        dir[n] = '\0';
    } else {
        const char *s = getenv("SCRIPT_FILENAME");
        if (!s || !*s)
            s = argv0;
        if (!s || strlen(s) >= size)
            return -1;
        strcpy(dir, s);
    }
    char *slash = strrchr(dir, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    return 0;
}

/* Does the query string contain download=1 (or download=yes/true)? */
static int want_download(const char *qs)
{
    if (!qs)
        return 0;
    while (*qs) {
        size_t len = strcspn(qs, "&;");
        if ((len == 10 && strncmp(qs, "download=1", 10) == 0) ||
            (len == 12 && strncmp(qs, "download=yes", 12) == 0) ||
            (len == 13 && strncmp(qs, "download=true", 13) == 0))
            return 1;
        qs += len;
        if (*qs)
            qs++;
    }
    return 0;
}

int main(int argc, char **argv)
{
    (void)argc;
    const char *method = getenv("REQUEST_METHOD");
    if (!method || !*method)
        method = "GET";
    int head = strcmp(method, "HEAD") == 0;
    if (!head && strcmp(method, "GET") != 0) {
        simple_response("405 Method Not Allowed", "Allow: GET, HEAD\r\n",
                        "Only GET and HEAD are supported.");
        return 0;
    }

    char path[PATH_MAX];
    const char *override = getenv("ACME_LOGO_FILE");
    if (override && *override) {
        if (strlen(override) >= sizeof path) {
            simple_response("500 Internal Server Error", NULL, "Path too long.");
            return 0;
        }
        strcpy(path, override);
    } else {
        char dir[PATH_MAX];
        if (exe_dir(dir, sizeof dir, argv[0]) != 0 ||
            snprintf(path, sizeof path, "%s/../htdocs/logo.png", dir) >= (int)sizeof path) {
            simple_response("500 Internal Server Error", NULL, "Cannot locate the logo.");
            return 0;
        }
    }

    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "logo.cgi: %s: %s\n", path, strerror(errno));
        simple_response("404 Not Found", NULL, "Logo not found.");
        return 0;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_FILE) {
        fclose(f);
        simple_response("500 Internal Server Error", NULL, "Logo is not a usable file.");
        return 0;
    }
    size_t size = (size_t)st.st_size;
    unsigned char *data = malloc(size ? size : 1);
    if (!data || fread(data, 1, size, f) != size) {
        fprintf(stderr, "logo.cgi: cannot read %s\n", path);
        fclose(f);
        free(data);
        simple_response("500 Internal Server Error", NULL, "Cannot read the logo.");
        return 0;
    }
    fclose(f);

    char hdr[512];
    int n = snprintf(hdr, sizeof hdr,
                     "Content-Type: image/png\r\n"
                     "Content-Length: %zu\r\n"
                     "%s"
                     "Cache-Control: public, max-age=86400\r\n"
                     "X-Content-Type-Options: nosniff\r\n"
                     "\r\n",
                     size,
                     want_download(getenv("QUERY_STRING"))
                         ? "Content-Disposition: attachment; filename=\"acme-jobs-logo.png\"\r\n"
                         : "Content-Disposition: inline; filename=\"acme-jobs-logo.png\"\r\n");
    int rc = 0;
    if (n < 0 || (size_t)n >= sizeof hdr || write_all(STDOUT_FILENO, hdr, (size_t)n) != 0)
        rc = 1;
    else if (!head && write_all(STDOUT_FILENO, data, size) != 0)
        rc = 1;
    free(data);
    return rc;
}
