package AcmeJobs;

# Shared helpers for the Acme Jobs CGI programs.
#
# Plain CGI/1.1 (RFC 3875), core Perl plus DBI and DBD::SQLite for the
# database; no CGI.pm.  Everything is
# handled as bytes; pages are declared UTF-8 and user input is only
# ever HTML-escaped, never decoded, so multi-byte characters pass through.

use strict;
use warnings;
use Exporter qw(import);
use FindBin ();

our $VERSION = '1.0';

our @EXPORT_OK = qw(
    html_escape url_encode url_decode parse_urlencoded query_params
    read_post_body cookies cgi_base site_root absolute_base
    db_file dbh count_jobs search_jobs find_job categories locations
    add_application applications count_applications
    print_headers page_start page_end only_methods
);
our %EXPORT_TAGS = ( all => \@EXPORT_OK );

our $SITE_NAME = 'Acme Jobs';
our $MAX_POST  = 64 * 1024;    # bytes; larger bodies are refused

# ---------------------------------------------------------------- encoding

sub html_escape {
    my ($s) = @_;
    return '' unless defined $s;
    $s =~ s/&/&amp;/g;
    $s =~ s/</&lt;/g;
    $s =~ s/>/&gt;/g;
    $s =~ s/"/&quot;/g;
    $s =~ s/'/&#39;/g;
    return $s;
}

sub url_encode {
    my ($s) = @_;
    return '' unless defined $s;
    $s =~ s/([^A-Za-z0-9\-_.~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

sub url_decode {
    my ($s) = @_;
    return '' unless defined $s;
    $s =~ tr/+/ /;
    $s =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
    return $s;
}

# Decode application/x-www-form-urlencoded data (also used for
# QUERY_STRING).  Returns a hash ref; the first value of a repeated
# field wins.  Both '&' and ';' separate pairs, as in classic CGI.
sub parse_urlencoded {
    my ($data) = @_;
    my %p;
    return \%p unless defined $data && length $data;
    for my $pair (split /[&;]/, $data) {
        next unless length $pair;
        my ($k, $v) = split /=/, $pair, 2;
        $k = url_decode($k);
        $v = url_decode(defined $v ? $v : '');
        $p{$k} = $v unless exists $p{$k};
    }
    return \%p;
}

sub query_params {
    return parse_urlencoded($ENV{QUERY_STRING});
}

# Read exactly CONTENT_LENGTH bytes of the request body from STDIN.
# Returns (body, undef) or (undef, "NNN Reason") on error.
sub read_post_body {
    my $len = $ENV{CONTENT_LENGTH};
    $len = 0 unless defined $len && length $len;
    return (undef, '411 Length Required') unless $len =~ /\A[0-9]+\z/;
    return (undef, '413 Payload Too Large') if $len > $MAX_POST;
    binmode STDIN;
    my $body = '';
    while (length($body) < $len) {
        my $n = read(STDIN, $body, $len - length($body), length $body);
        return (undef, '400 Bad Request') unless defined $n;
        last if $n == 0;    # premature EOF
    }
    return (undef, '400 Bad Request') if length($body) != $len;
    return ($body, undef);
}

# Parse HTTP_COOKIE ("a=1; b=2") into a hash ref of url-decoded values.
sub cookies {
    my %c;
    my $raw = $ENV{HTTP_COOKIE};
    return \%c unless defined $raw;
    for my $part (split /\s*[;,]\s*/, $raw) {
        my ($k, $v) = split /=/, $part, 2;
        next unless defined $k && length $k;
        $v = '' unless defined $v;
        $v =~ s/\A"(.*)"\z/$1/;
        $c{$k} = url_decode($v) unless exists $c{$k};
    }
    return \%c;
}

# ------------------------------------------------------------------ paths

# URL path of the directory holding the running script, e.g.
# SCRIPT_NAME=/dev/cgi-bin/search.pl gives /dev/cgi-bin.
# A script in a folder below cgi-bin (employer/index.pl) sets $DEPTH = 1.
our $DEPTH = 0;

sub cgi_base {
    my $sn = defined $ENV{SCRIPT_NAME} ? $ENV{SCRIPT_NAME} : '/cgi-bin/x';
    $sn =~ s{/[^/]*\z}{} for 0 .. $DEPTH;
    return $sn;
}

# URL path of the site root (where /style.css lives): the cgi-bin base
# with its last segment removed, e.g. /dev/cgi-bin gives /dev, and
# /cgi-bin gives '' (so links become "/style.css").
sub site_root {
    my $b = cgi_base();
    $b =~ s{/[^/]*\z}{};
    return $b;
}

# scheme://host[:port] of the current request, for absolute redirects.
sub absolute_base {
    my $scheme = $ENV{REQUEST_SCHEME};
    if (!defined $scheme || $scheme !~ /\Ahttps?\z/i) {
        my $https = defined $ENV{HTTPS} ? lc $ENV{HTTPS} : '';
        $scheme = ($https eq 'on' || $https eq '1') ? 'https' : 'http';
    }
    $scheme = lc $scheme;
    my $host = $ENV{HTTP_HOST};
    if (!defined $host || $host !~ /\A[A-Za-z0-9.\-]+(?::[0-9]+)?\z|\A\[[0-9A-Fa-f:.]+\](?::[0-9]+)?\z/) {
        $host = defined $ENV{SERVER_NAME} ? $ENV{SERVER_NAME} : 'localhost';
        $host = 'localhost' unless $host =~ /\A[A-Za-z0-9.\-]+\z|\A\[[0-9A-Fa-f:.]+\]\z/;
        my $port = defined $ENV{SERVER_PORT} ? $ENV{SERVER_PORT} : '';
        if ($port =~ /\A[0-9]+\z/
            && !($scheme eq 'http' && $port == 80)
            && !($scheme eq 'https' && $port == 443)) {
            $host .= ":$port";
        }
    }
    return "$scheme://$host";
}

# ------------------------------------------------------------------- data
#
# Listings and applications live in an SQLite database, db/acme.db next
# to cgi-bin's scripts ($ACME_DATA_DIR overrides the directory).  That
# directory is the one the site writes to: on Lambda it is listed in
# CGI_WRITABLE, so it is a link to the EFS mount (or /tmp without one).
#
# The database keeps SQLite's default rollback journal, never WAL: WAL
# needs a shared-memory index that processes on different hosts cannot
# share, and on EFS every Lambda instance is another host.  The rollback
# journal needs only POSIX byte-range locks, which EFS (NFSv4) provides.
# Writers wait for each other (busy timeout) instead of failing.

# Where this module lives: cgi-bin/lib, so the site is one level up.
my ($LIB_DIR) = __FILE__ =~ m{\A(.*)/[^/]*\z};
$LIB_DIR = '.' unless defined $LIB_DIR;
our $SITE_DIR = "$LIB_DIR/..";

our $BUSY_TIMEOUT_MS = 30_000;
our $SCHEMA_VERSION  = 1;

sub data_file {
    return "$SITE_DIR/data/jobs.tsv";
}

sub db_file {
    my $dir = defined $ENV{ACME_DATA_DIR} && length $ENV{ACME_DATA_DIR}
        ? $ENV{ACME_DATA_DIR} : "$SITE_DIR/db";
    return "$dir/acme.db";
}

my @JOB_FIELDS = qw(id title company location category salary posted description);
my $DBH;

# The database handle, created and filled from data/jobs.tsv on first use.
sub dbh {
    return $DBH if $DBH;
    require DBI;
    my $file = db_file();
    (my $dir = $file) =~ s{/[^/]*\z}{};
    # SQLite's own message would not say which file; this one names it, with errno.
    die "cannot create $file: $!\n" unless -d $dir;
    if (!-e $file) {
        use filetest 'access';    # access(2): says EROFS on a read-only mount, which mode bits do not
        die "cannot create $file: $!\n" unless -w $dir;
    }
    $DBH = DBI->connect("dbi:SQLite:dbname=$file", '', '', {
        RaiseError => 1, PrintError => 0, AutoCommit => 1,
        sqlite_use_immediate_transaction => 1,    # writers lock at BEGIN: no deadlock on upgrade
    }) or die "cannot open $file: $DBI::errstr\n";
    $DBH->sqlite_busy_timeout($BUSY_TIMEOUT_MS);
    my ($version) = $DBH->selectrow_array('PRAGMA user_version');
    init_db($DBH) if $version < $SCHEMA_VERSION;
    return $DBH;
}

# Creates the tables and imports the listings, once: the first request
# takes the write lock, the others wait for it and find the work done.
sub init_db {
    my ($dbh) = @_;
    $dbh->begin_work;
    my ($version) = $dbh->selectrow_array('PRAGMA user_version');
    if ($version >= $SCHEMA_VERSION) {
        $dbh->commit;
        return;
    }
    $dbh->do(q{CREATE TABLE IF NOT EXISTS jobs (
        id INTEGER PRIMARY KEY, title TEXT NOT NULL, company TEXT NOT NULL,
        location TEXT NOT NULL, category TEXT NOT NULL, salary TEXT NOT NULL,
        posted TEXT NOT NULL, description TEXT NOT NULL)});
    $dbh->do(q{CREATE TABLE IF NOT EXISTS applications (
        id INTEGER PRIMARY KEY AUTOINCREMENT, received TEXT NOT NULL,
        job_id INTEGER REFERENCES jobs(id), name TEXT NOT NULL,
        email TEXT NOT NULL, message TEXT NOT NULL, remote_addr TEXT)});
    $dbh->do('CREATE INDEX IF NOT EXISTS jobs_posted ON jobs (posted DESC, id)');
    my $ins = $dbh->prepare('INSERT OR REPLACE INTO jobs (' . join(', ', @JOB_FIELDS)
        . ') VALUES (' . join(', ', ('?') x @JOB_FIELDS) . ')');
    $ins->execute(@{$_}{@JOB_FIELDS}) for read_jobs_file();
    $dbh->do("PRAGMA user_version = $SCHEMA_VERSION");
    $dbh->commit;
}

# The listings file as a list of job hash refs (the database's source).
sub read_jobs_file {
    my $file = data_file();
    open my $fh, '<', $file or die "cannot open $file: $!\n";
    my @jobs;
    while (my $line = <$fh>) {
        next if $line =~ /\A\s*(?:#|\z)/;
        $line =~ s/\r?\n\z//;
        my @v = split /\t/, $line, -1;
        next unless @v == @JOB_FIELDS && $v[0] =~ /\A[0-9]+\z/;
        my %j;
        @j{@JOB_FIELDS} = @v;
        push @jobs, \%j;
    }
    close $fh;
    return @jobs;
}

# WHERE clause and bind values for a search: every word in title,
# description or company; location a substring; category exact.  Case is
# ignored (ASCII, as lc does on bytes).  Only placeholders carry input.
sub job_filter {
    my (%o) = @_;
    my (@where, @bind);
    for my $w (@{ $o{words} || [] }) {
        push @where, q{instr(lower(title || ' ' || description || ' ' || company), ?) > 0};
        push @bind, lc $w;
    }
    if (defined $o{loc} && length $o{loc}) {
        push @where, 'instr(lower(location), ?) > 0';
        push @bind, lc $o{loc};
    }
    if (defined $o{category} && length $o{category}) {
        push @where, 'lower(category) = ?';
        push @bind, lc $o{category};
    }
    return (@where ? 'WHERE ' . join(' AND ', @where) : '', @bind);
}

sub count_jobs {
    my ($where, @bind) = job_filter(@_);
    my ($n) = dbh()->selectrow_array("SELECT COUNT(*) FROM jobs $where", undef, @bind);
    return $n;
}

# search_jobs(words => [...], loc => ..., category => ..., limit => 10, offset => 0)
# Returns job hash refs, newest first.
sub search_jobs {
    my (%o) = @_;
    my ($where, @bind) = job_filter(%o);
    my $cols = join ', ', @JOB_FIELDS;
    return @{ dbh()->selectall_arrayref(
        "SELECT $cols FROM jobs $where ORDER BY posted DESC, id ASC LIMIT ? OFFSET ?",
        { Slice => {} }, @bind, $o{limit} || -1, $o{offset} || 0) };
}

sub find_job {
    my ($id) = @_;
    return undef unless defined $id && $id =~ /\A[0-9]{1,9}\z/;
    my $cols = join ', ', @JOB_FIELDS;
    return dbh()->selectrow_hashref("SELECT $cols FROM jobs WHERE id = ?", undef, $id);
}

sub categories {
    return @{ dbh()->selectcol_arrayref('SELECT DISTINCT category FROM jobs ORDER BY category') };
}

sub locations {
    return @{ dbh()->selectcol_arrayref('SELECT DISTINCT location FROM jobs ORDER BY location') };
}

# Stores one application in a transaction; returns its id.
sub add_application {
    my (%a) = @_;
    my $dbh = dbh();
    $dbh->begin_work;
    my $ok = eval {
        $dbh->do('INSERT INTO applications (received, job_id, name, email, message, remote_addr) VALUES (?, ?, ?, ?, ?, ?)',
            undef, @a{qw(received job_id name email message remote_addr)});
        1;
    };
    if (!$ok) {
        my $err = $@;
        eval { $dbh->rollback };
        die $err;
    }
    my $id = $dbh->last_insert_id(undef, undef, 'applications', 'id');
    $dbh->commit;
    return $id;
}

# applications(limit => 200): newest first, with the job's title.
sub applications {
    my (%o) = @_;
    return @{ dbh()->selectall_arrayref(q{
        SELECT a.id, a.received, a.job_id, a.name, a.email, a.message, a.remote_addr, j.title AS job_title
        FROM applications a LEFT JOIN jobs j ON j.id = a.job_id
        ORDER BY a.id DESC LIMIT ?}, { Slice => {} }, $o{limit} || 200) };
}

sub count_applications {
    my ($n) = dbh()->selectrow_array('SELECT COUNT(*) FROM applications');
    return $n;
}

# ----------------------------------------------------------------- output

# print_headers(status => '404 Not Found', type => ..., headers => [..])
# Prints the CGI response header block and the blank line.
sub print_headers {
    my (%o) = @_;
    binmode STDOUT;
    my $type = defined $o{type} ? $o{type} : 'text/html; charset=UTF-8';
    print "Status: $o{status}\n" if $o{status};
    print "Content-Type: $type\n";
    for my $h (@{ $o{headers} || [] }) {
        (my $clean = $h) =~ s/[\r\n]+/ /g;    # no header injection
        print "$clean\n";
    }
    print "\n";
}

# only_methods('GET', 'HEAD'): answers 405 and exits for any other method;
# returns the request method otherwise.
sub only_methods {
    my @allowed = @_;
    my $method = defined $ENV{REQUEST_METHOD} ? $ENV{REQUEST_METHOD} : 'GET';
    return $method if grep { $_ eq $method } @allowed;
    my $list = join ', ', @allowed;
    print_headers(status => '405 Method Not Allowed', type => 'text/plain',
                  headers => ["Allow: $list"]);
    print "Only $list supported here.\n";
    exit 0;
}

sub page_start {
    my ($title, %o) = @_;
    my $root = site_root();
    my $cgi  = cgi_base();
    my $t    = html_escape(defined $title && length $title ? "$title - $SITE_NAME" : $SITE_NAME);
    return <<"HTML";
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>$t</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="$root/style.css">
</head>
<body>
<div id="wrap">
<div id="header">
  <a href="$root/"><img src="$root/logo.png" width="160" height="48" alt="Acme Jobs"></a>
  <ul id="nav">
    <li><a href="$root/">Home</a></li>
    <li><a href="$cgi/search.pl">Browse jobs</a></li>
    <li><a href="$cgi/apply.pl">Contact us</a></li>
    <li><a href="$root/about.html">About</a></li>
  </ul>
</div>
<div id="content">
HTML
}

sub page_end {
    my $year = (gmtime)[5] + 1900;
    my $cgi  = cgi_base();
    return <<"HTML";
</div>
<div id="footer">
  &copy; 1999-$year Acme Jobs, Inc. &middot; All listings are fictional.
  &middot; <a href="$cgi/brochure.sh">Employer brochure (PDF)</a>
  <br><small>Powered by Perl $^V and CGI/1.1</small>
</div>
</div>
</body>
</html>
HTML
}

1;
