#!/usr/bin/perl
# job.pl - show one job listing.
#
# GET /cgi-bin/job.pl/17      (id taken from PATH_INFO)
# GET /cgi-bin/job.pl?id=17   (fallback for servers without PATH_INFO)
# Unknown ids answer "Status: 404 Not Found" with a friendly page.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AcmeJobs qw(:all);

my $method = only_methods('GET', 'HEAD');

my $base = cgi_base();
my $id;
my $path_info = defined $ENV{PATH_INFO} ? $ENV{PATH_INFO} : '';
if ($path_info =~ m{\A/+([^/]*)/*\z}) {
    $id = $1;
}
elsif (!length $path_info) {
    $id = query_params()->{id};
}

my $job = find_job($id);

if (!$job) {
    print_headers(status => '404 Not Found');
    exit 0 if $method eq 'HEAD';
    print page_start('Job not found');
    my $what = defined $id && length $id ? 'Job #' . html_escape($id) : 'That job';
    $what = 'That job' if length $path_info && !defined $id;
    print <<"HTML";
<h1>Sorry, we couldn't find that job</h1>
<p>$what may have been filled or removed. Listings usually stay up for about 30 days.</p>
<p><a href="$base/search.pl">&laquo; Browse all open positions</a></p>
HTML
    print page_end();
    exit 0;
}

print_headers(headers => ['Cache-Control: public, max-age=300']);
exit 0 if $method eq 'HEAD';

my %h = map { $_ => html_escape($job->{$_}) } keys %$job;
my $cat_url = html_escape("$base/search.pl?category=" . url_encode($job->{category}));
my $co_url  = html_escape("$base/search.pl?q=" . url_encode($job->{company}));
my $apply   = html_escape("$base/apply.pl?job=" . url_encode($job->{id}));

print page_start($job->{title});
print <<"HTML";
<p class="crumbs"><a href="$base/search.pl">Jobs</a> &rsaquo; <a href="$cat_url">$h{category}</a> &rsaquo; #$h{id}</p>
<h1>$h{title}</h1>
<table class="job">
<tr><th>Company</th><td><a href="$co_url">$h{company}</a></td></tr>
<tr><th>Location</th><td>$h{location}</td></tr>
<tr><th>Category</th><td>$h{category}</td></tr>
<tr><th>Salary</th><td>$h{salary}</td></tr>
<tr><th>Posted</th><td>$h{posted}</td></tr>
</table>
<h2>Job description</h2>
<p>$h{description}</p>
<p class="apply"><a class="button" href="$apply">Apply for this job</a></p>
HTML
print page_end();
exit 0;
