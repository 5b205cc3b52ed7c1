#!/usr/bin/perl
# thanks.pl - thank-you page after apply.pl.
#
# Greets the applicant by the "applicant" cookie set by apply.pl, which
# proves that Set-Cookie / Cookie round-trip through the server.  The
# ?name= parameter is only used as a fallback (and reported as such).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AcmeJobs qw(:all);

my $method = only_methods('GET', 'HEAD');

my $c    = cookies();
my $p    = query_params();
my $base = cgi_base();

print_headers(headers => ['Cache-Control: no-store']);
exit 0 if $method eq 'HEAD';

print page_start('Thank you');

my $name = $c->{applicant};
if (defined $name && length $name) {
    printf "<h1>Thank you, %s!</h1>\n", html_escape($name);
    print qq{<p class="note">(We recognised you from the <code>applicant</code> cookie.)</p>\n};
}
elsif (defined $p->{name} && length $p->{name}) {
    printf "<h1>Thank you, %s!</h1>\n", html_escape($p->{name});
    print qq{<p class="note">(Your browser did not send back our <code>applicant</code> cookie.)</p>\n};
}
else {
    print "<h1>Thank you!</h1>\n";
}

my $job = find_job(defined $c->{last_job} ? $c->{last_job} : $p->{job});
if ($job) {
    printf qq{<p>Your application for <a href="%s">%s</a> at %s has been received.</p>\n},
        html_escape("$base/job.pl/$job->{id}"), html_escape($job->{title}), html_escape($job->{company});
}
else {
    print "<p>Your message has been received.</p>\n";
}
print <<"HTML";
<p>One of our recruiters will get back to you within a few business days.</p>
<p><a href="$base/search.pl">&laquo; Back to the job listings</a></p>
HTML
print page_end();
exit 0;
