#!/usr/bin/perl
# index.cgi - directory index for /cgi-bin/: lists the CGI programs here
# (executable regular files, no dotfiles, no directories).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AcmeJobs qw(:all);

my %ABOUT = (
    'search.pl'    => ['Search the job listings',                  'search.pl?q=perl'],
    'job.pl'       => ['Show one job (id in PATH_INFO)',           'job.pl/7'],
    'apply.pl'     => ['Application / contact form (GET + POST)',  'apply.pl?job=7'],
    'thanks.pl'    => ['Thank-you page, reads the applicant cookie', undef],
    'logo.cgi'     => ['Logo PNG from a compiled C program',       undef],
    'brochure.sh'  => ['Employer brochure PDF download (shell)',   undef],
    'nph-time.pl'  => ['Non-parsed-headers server time/status',    undef],
    'printenv.pl'  => ['Dump the CGI environment (debugging)',     undef],
    'index.cgi'    => ['This listing',                             undef],
);

my $method = defined $ENV{REQUEST_METHOD} ? $ENV{REQUEST_METHOD} : 'GET';
if ($method ne 'GET' && $method ne 'HEAD') {
    print_headers(status => '405 Method Not Allowed', type => 'text/plain',
                  headers => ['Allow: GET, HEAD']);
    print "Only GET and HEAD are supported here.\n";
    exit 0;
}

opendir my $dh, $FindBin::Bin or die "cannot read $FindBin::Bin: $!\n";
my @progs = sort grep {
    !/\A\./ && -f "$FindBin::Bin/$_" && -x _
} readdir $dh;
closedir $dh;

print_headers();
exit 0 if $method eq 'HEAD';

my $base = cgi_base();
print page_start('CGI programs');
print "<h1>Index of ", html_escape("$base/"), "</h1>\n";
print qq{<table class="results">\n<tr><th>Program</th><th>Size</th><th>Description</th></tr>\n};
my $row = 0;
for my $f (@progs) {
    my ($desc, $example) = @{ $ABOUT{$f} || ['', undef] };
    my $href = "$base/" . (defined $example ? $example : url_encode($f));
    printf qq{<tr class="%s"><td><a href="%s">%s</a></td><td>%d</td><td>%s</td></tr>\n},
        $row++ % 2 ? 'odd' : 'even', html_escape($href), html_escape($f),
        -s "$FindBin::Bin/$f", html_escape($desc);
}
print "</table>\n";
printf "<p>%d program%s.</p>\n", scalar @progs, @progs == 1 ? '' : 's';
print page_end();
exit 0;
