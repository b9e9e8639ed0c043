/**
 * Which CRs a /debug caller may see: those the caller may `get` as the API server would decide
 * it (a SubjectAccessReview per kind and namespace), so the pages show nobody more than
 * `kubectl get` would. Answers are kept for one request only: a page reloads every few
 * seconds, and a revoked RoleBinding must take effect on the next reload.
 */
import type { MayGet } from '../inspect/debug.js';
import { pluralOf, type ScribeKind } from '../inspect/kinds.js';
import type { AccessReviewCall, UserInfo } from './auth.js';

/** The API group of the Scribe CRs. */
const GROUP = 'scribe.backube';

/**
 * A MayGet for one request of `user`: one review of the kind in every namespace (a cluster-wide
 * reader needs no more), then one per namespace asked about, each asked once.
 */
export function requestAccess(accessReview: AccessReviewCall, user: UserInfo): MayGet {
  const answers = new Map<string, Promise<boolean>>();
  const may = (kind: ScribeKind, namespace: string): Promise<boolean> => {
    const key = `${kind}/${namespace}`;
    let answer = answers.get(key);
    if (!answer) {
      answer = accessReview(user, {
        resourceAttributes: { group: GROUP, resource: pluralOf(kind), verb: 'get', namespace },
      }).then((status) => status?.allowed === true);
      answers.set(key, answer);
    }
    return answer;
  };
  return async (kind, namespace) => (await may(kind, '')) || (namespace !== '' && may(kind, namespace));
}
