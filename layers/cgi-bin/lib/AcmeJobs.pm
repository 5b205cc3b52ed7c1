package AcmeJobs;

# Shared helpers for the Acme Jobs CGI programs.
#
# Plain CGI/1.1 (RFC 3875), core Perl only: no CGI.pm.  Everything is
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
    load_jobs find_job categories locations
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
sub cgi_base {
    my $sn = defined $ENV{SCRIPT_NAME} ? $ENV{SCRIPT_NAME} : '/cgi-bin/x';
    $sn =~ s{/[^/]*\z}{};
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

my @JOBS;

sub data_file {
    return "$FindBin::Bin/data/jobs.tsv";
}

# Returns the list of job hash refs, newest first.
sub load_jobs {
    return @JOBS if @JOBS;
    my $file = data_file();
    open my $fh, '<', $file or die "cannot open $file: $!\n";
    my @f = qw(id title company location category salary posted description);
    while (my $line = <$fh>) {
        next if $line =~ /\A\s*(?:#|\z)/;
        $line =~ s/\r?\n\z//;
        my @v = split /\t/, $line, -1;
        next unless @v == @f && $v[0] =~ /\A[0-9]+\z/;
        my %j;
        @j{@f} = @v;
        push @JOBS, \%j;
    }
    close $fh;
    @JOBS = sort { $b->{posted} cmp $a->{posted} || $a->{id} <=> $b->{id} } @JOBS;
    return @JOBS;
}

sub find_job {
    my ($id) = @_;
    return undef unless defined $id && $id =~ /\A[0-9]{1,9}\z/;
    for my $j (load_jobs()) {
        return $j if $j->{id} == $id;
    }
    return undef;
}

sub categories {
    my %seen;
    return sort grep { !$seen{$_}++ } map { $_->{category} } load_jobs();
}

sub locations {
    my %seen;
    return sort grep { !$seen{$_}++ } map { $_->{location} } load_jobs();
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
