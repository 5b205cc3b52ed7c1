#!/usr/bin/perl
# employer/index.pl - the applications received, for Acme's recruiters.
#
# GET /cgi-bin/employer/   (behind Basic auth: employer/.htaccess)
# Lists the newest applications first, with the job applied for.  The
# server checks the password; REMOTE_USER says who signed in, and
# without it the page answers 403.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use AcmeJobs qw(:all);

$AcmeJobs::DEPTH = 1;    # one folder below cgi-bin, for the links
my $LIMIT = 200;

my $method = only_methods('GET', 'HEAD');

# The server checks the password (employer/.htaccess); this page refuses to
# list anybody's applications to a request nobody signed in for, should the
# protection ever be missing.
if (!defined $ENV{REMOTE_USER} || !length $ENV{REMOTE_USER}) {
    print STDERR "employer/index.pl: refused: no REMOTE_USER (is employer/.htaccess in place?)\n";
    print_headers(status => '403 Forbidden', headers => ['Cache-Control: no-store']);
    exit 0 if $method eq 'HEAD';
    print page_start('Sign-in required');
    print "<h1>Sign-in required</h1>\n<p>This page is for Acme's recruiters only.</p>\n";
    print page_end();
    exit 0;
}

my $total = count_applications();
my @apps  = applications(limit => $LIMIT);

print_headers(headers => ['Cache-Control: no-store, private']);
exit 0 if $method eq 'HEAD';

my $base = cgi_base();
my $user = $ENV{REMOTE_USER};

print page_start('Applications');
printf qq{<h1>Applications received: %d</h1>\n}, $total;
printf qq{<p class="note">Signed in as <b id="user">%s</b>.</p>\n}, html_escape($user);

if (!@apps) {
    print "<p>No applications yet.</p>\n";
}
else {
    printf qq{<p class="count">The newest %d.</p>\n}, scalar @apps if $total > @apps;
    print qq{<table class="results applications">\n<tr><th>#</th><th>Received (UTC)</th><th>Name</th><th>E-mail</th><th>Job</th><th>Message</th></tr>\n};
    my $row = 0;
    for my $a (@apps) {
        my $cls = $row++ % 2 ? 'odd' : 'even';
        my $job = defined $a->{job_id}
            ? sprintf(qq{<a href="%s">%s</a>}, html_escape("$base/job.pl/$a->{job_id}"),
                      html_escape(defined $a->{job_title} ? $a->{job_title} : "#$a->{job_id}"))
            : 'General enquiry';
        my $msg = $a->{message};
        $msg = substr($msg, 0, 300) . '...' if length $msg > 303;
        printf qq{<tr class="%s"><td>%d</td><td>%s</td><td>%s</td><td><a href="mailto:%s">%s</a></td><td>%s</td><td>%s</td></tr>\n},
            $cls, $a->{id}, html_escape($a->{received}), html_escape($a->{name}),
            html_escape($a->{email}), html_escape($a->{email}), $job, html_escape($msg);
    }
    print "</table>\n";
}
print page_end();
exit 0;
