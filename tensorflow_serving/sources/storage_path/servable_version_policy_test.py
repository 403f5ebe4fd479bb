from absl.testing import absltest
from tensorflow_serving.config import file_system_storage_path_source_pb2

from tensorflow_serving.sources.storage_path import servable_version_policy

Policy = file_system_storage_path_source_pb2.FileSystemStoragePathSourceConfig.ServableVersionPolicy


class ServableVersionPolicyTest(absltest.TestCase):

    def test_unset_means_latest_one(self):
        policy = Policy()
        self.assertEqual(servable_version_policy.policy_name(policy), "latest")
        self.assertEqual(servable_version_policy.select_versions(policy, [3, 1, 2]), ([3], []))
        self.assertEqual(servable_version_policy.describe(policy), "latest 1")

    def test_latest_n(self):
        policy = Policy()
        policy.latest.num_versions = 2
        self.assertEqual(servable_version_policy.select_versions(policy, [1, 5, 3, 4]),
                         ([4, 5], []))
        self.assertEqual(servable_version_policy.select_versions(policy, [7]), ([7], []))
        self.assertEqual(servable_version_policy.select_versions(policy, []), ([], []))

    def test_all(self):
        policy = Policy()
        policy.all.SetInParent()
        self.assertEqual(servable_version_policy.select_versions(policy, [2, 1, 3, 3]),
                         ([1, 2, 3], []))
        self.assertEqual(servable_version_policy.describe(policy), "all")

    def test_specific_reports_missing_versions(self):
        policy = Policy()
        policy.specific.versions.extend([2, 9])
        self.assertEqual(servable_version_policy.select_versions(policy, [1, 2, 3]),
                         ([2], [9]))
        self.assertEqual(servable_version_policy.describe(policy), "specific [2, 9]")


if __name__ == "__main__":
    absltest.main()
