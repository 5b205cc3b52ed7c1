// Stops the Perl workers a test file's handlers started, so none outlives its file.
import { shutdownPerlWorkers } from '../../handler/process/select';

afterAll(() => shutdownPerlWorkers());
